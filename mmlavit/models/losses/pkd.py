"""Pearson-correlation feature distillation, PKD (Cao, Zhang, Gao, Cheng, Cheng, Cheng; NeurIPS 2022)."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from mmlavit.registry import register

from .multi_level import FeatureMapLoss


def standardize_channels(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Each channel of ``(N, C, H, W)`` to zero mean and unit (population) standard deviation over its
    N·H·W values."""
    dims = [0, *range(2, x.ndim)]
    mean = x.mean(dim=dims, keepdim=True)
    std = x.var(dim=dims, keepdim=True, unbiased=False).sqrt()
    return (x - mean) / (std + eps)


@register('model')
class PKDLoss(FeatureMapLoss):
    """``L = w · Σ_l w_l · ½ · MSE(ŝ_l, t̂_l)``, with ``x̂`` each channel of level l standardised over its
    N·H·W values (:func:`standardize_channels`). For one channel ``½ · mean((ŝ − t̂)²) = 1 − r``, r the
    Pearson correlation of student and teacher: the loss asks for the teacher's pattern, not its magnitude.
    The paper's form (mmrazor's name and ``loss_weight``).

    Args:
        loss_weight (float): w (mmrazor's recipes: 6 for Faster R-CNN, 10 for RetinaNet students).
            Defaults to 1.0.
        level_weights (Sequence[float], optional): w_l, one per level (ours). Defaults to None (1 for each).
        eps (float): added to the standard deviation. Defaults to 1e-6.

    Inputs: ``student``, ``teacher``: ``(N, C, H, W)`` maps of the same shape or sequences of them (the FPN
    levels given, summed); the teacher is detached. Different channels or sizes need a connector in the loss
    input (``ChannelAdapter`` / ``SpatialResize``); nothing is resized here (mmrazor's ``resize_stu``
    resized silently). The standard deviation is the population one (mmrazor's, ``torch.std``, is the
    unbiased one: its values are ours times ``(M − 1)/M``, M = N·H·W).
    """

    def __init__(self, loss_weight: float = 1.0, level_weights: Optional[Sequence[float]] = None,
                 eps: float = 1e-6):
        super().__init__(loss_weight, level_weights)
        self.eps = eps

    min_ndim = 3

    def one_level(self, s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return 0.5 * F.mse_loss(standardize_channels(s, self.eps), standardize_channels(t.detach(), self.eps))
