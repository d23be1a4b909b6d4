"""Plain knowledge distillation (Hinton et al., 2015)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmlavit.registry import register

from .utils import check_logit_pair


@register('model')
class KDLoss(nn.Module):
    """``L = w · T² · KL(softmax(z_T/T) ‖ softmax(z_S/T))``, averaged over the batch.

    Args:
        temperature: T (4 on CIFAR-100, 1 on ImageNet in the KD papers' recipes).
        loss_weight: w.
    Inputs: ``student``, ``teacher``: logits ``(N, C)``; the teacher is detached.
    """

    def __init__(self, temperature: float = 4.0, loss_weight: float = 1.0):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'temperature must be positive, got {temperature}')
        self.temperature = temperature
        self.loss_weight = loss_weight

    def check_inputs(self, inputs: dict, key: str, where: str) -> None:
        """Called by the distiller before :meth:`forward` with its keyword arguments: the two models'
        logits must pair up (:func:`~mmlavit.models.losses.utils.check_logit_pair`)."""
        check_logit_pair(where, inputs.get('student'), inputs.get('teacher'))

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        t = self.temperature
        log_p_s = F.log_softmax(student / t, dim=1)
        log_p_t = F.log_softmax(teacher.detach() / t, dim=1)
        kl = F.kl_div(log_p_s, log_p_t, reduction='batchmean', log_target=True)
        return self.loss_weight * t * t * kl
