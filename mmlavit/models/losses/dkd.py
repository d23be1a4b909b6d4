"""Decoupled knowledge distillation (Zhao et al., CVPR 2022)."""
import torch
import torch.nn.functional as F

from mmlavit.registry import register

from .utils import check_logit_pair
from .warmup import WarmupLoss


@register('model')
class DKDLoss(WarmupLoss):
    """``L = w · (α · TCKD + β · NCKD)`` with temperature T.

    * TCKD: ``T² · KL(b_T ‖ b_S)`` over the binary target / non-target probabilities
      ``b = [p_gt, 1 − p_gt]`` of ``softmax(z/T)``;
    * NCKD: ``T² · KL(p̂_T ‖ p̂_S)`` over the non-target classes, ``p̂ = softmax(z/T)`` with the target
      class removed (its logit masked out).

    Both are averaged over the batch. Recipes: CIFAR-100 α=1, β=8 (2 for resnet56/110, 6 for WRN/VGG),
    T=4, the loss ramped up linearly over the first 20 of 240 epochs (``warmup=20/240``); ImageNet β=0.5, T=1.
    Inputs: ``student``, ``teacher`` logits ``(N, C)``; ``target`` labels ``(N,)``.

    ``warmup``: fraction of training over which the weight grows linearly from 0 to ``loss_weight``; the
    distiller reports progress through :meth:`set_progress` (0 disables the ramp).
    """

    def __init__(self, alpha: float = 1.0, beta: float = 8.0, temperature: float = 4.0,
                 loss_weight: float = 1.0, warmup: float = 0.0):
        super().__init__(warmup)
        self.alpha, self.beta, self.temperature, self.loss_weight = alpha, beta, temperature, loss_weight

    def check_inputs(self, inputs: dict, key: str, where: str) -> None:
        """Called by the distiller before :meth:`forward` with its keyword arguments: the two models'
        logits must pair up (:func:`~mmlavit.models.losses.utils.check_logit_pair`)."""
        check_logit_pair(where, inputs.get('student'), inputs.get('teacher'))

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        t = self.temperature
        teacher = teacher.detach()
        gt = F.one_hot(target, student.shape[1]).bool()
        p_s = F.softmax(student / t, dim=1)
        p_t = F.softmax(teacher / t, dim=1)
        b_s = torch.stack([(p_s * gt).sum(1), (p_s * ~gt).sum(1)], dim=1)
        b_t = torch.stack([(p_t * gt).sum(1), (p_t * ~gt).sum(1)], dim=1)
        eps = torch.finfo(b_s.dtype).tiny
        tckd = (b_t * (torch.log(b_t + eps) - torch.log(b_s + eps))).sum(1).mean() * t * t
        big = torch.finfo(student.dtype).max / 4  # remove the target class from the softmax
        log_q_s = F.log_softmax(student / t - gt * big, dim=1)
        log_q_t = F.log_softmax(teacher / t - gt * big, dim=1)
        q_t = log_q_t.exp()
        nckd = (q_t * (log_q_t - log_q_s)).masked_fill(gt, 0).sum(1).mean() * t * t
        return self.ramp * self.loss_weight * (self.alpha * tckd + self.beta * nckd)
