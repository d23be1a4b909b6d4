"""Channel-wise distillation, CWD (Shu, Liu, Gao, Yan, Shen; ICCV 2021)."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from mmlavit.registry import register

from .multi_level import FeatureMapLoss


def channel_wise_divergence(student: torch.Tensor, teacher: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """``τ²/(N·C) · Σ_{n,c} KL(softmax(T_nc/τ) ‖ softmax(S_nc/τ))``, each channel's softmax over its H·W
    positions; ``(N, C, H, W)`` maps of the same shape."""
    n, c = student.shape[:2]
    log_p_s = F.log_softmax(student.flatten(2) / tau, dim=-1)
    log_p_t = F.log_softmax(teacher.detach().flatten(2) / tau, dim=-1)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum()
    return kl * tau ** 2 / (n * c)


@register('model')
class ChannelWiseDivergence(FeatureMapLoss):
    """``L = w · τ²/(N·C) · Σ_{n,c} KL(p_T^{nc} ‖ p_S^{nc})`` with ``p^{nc} = softmax(x_{nc}/τ)`` over the
    H·W positions of channel c of image n: each channel becomes a distribution over space, and the student
    matches where the teacher's channel puts its mass (the paper's form; mmrazor's name and arguments).

    Args:
        tau (float): the temperature τ (1 on segmentation logits in the paper, 4 on detector FPN features in
            mmrazor's recipes). Defaults to 1.0.
        loss_weight (float): w. Defaults to 1.0.
        level_weights (Sequence[float], optional): one weight per level for a multi-level input (ours).
            Defaults to None (1 for each).

    Inputs: ``student``, ``teacher``: ``(N, C, H, W)`` maps of the same shape (logits or features) or
    sequences of them (FPN levels: summed, weighted); the teacher is detached. Different channels or sizes
    need a connector in the loss input (``ChannelAdapter`` / ``SpatialResize``); nothing is resized here.
    """

    def __init__(self, tau: float = 1.0, loss_weight: float = 1.0,
                 level_weights: Optional[Sequence[float]] = None):
        super().__init__(loss_weight, level_weights)
        if tau <= 0:
            raise ValueError(f'tau must be positive, got {tau}')
        self.tau = tau

    min_ndim = 3

    def one_level(self, s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return channel_wise_divergence(s, t, self.tau)
