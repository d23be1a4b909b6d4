"""Feature mimicking by squared error, FitNet style (Romero et al., ICLR 2015)."""
from typing import Optional, Sequence

import torch

from mmlavit.registry import register

from .multi_level import FeatureMapLoss


@register('model')
class FeatureMSELoss(FeatureMapLoss):
    """``L = w · Σ_l w_l · d(S_l, T_l)``: the student's map (through a connector when the shapes differ, e.g.
    FitNet's regressor = a ``ChannelAdapter``) regresses the teacher's.

    ``reduction``: ``'mean'`` — the mean of the squared differences over all elements (ours: scale-free in
    the map size); ``'batchsum'`` — summed over each sample's C·H·W elements, averaged over the batch
    (FitNet's ``½‖u − r(v)‖²`` is ``reduction='batchsum', loss_weight=0.5``).

    Args:
        loss_weight (float): w. Defaults to 1.0.
        reduction (str): ``'mean'`` or ``'batchsum'``. Defaults to ``'mean'``.
        level_weights (Sequence[float], optional): w_l, one per level. Defaults to None (1 for each).

    Inputs: ``student``, ``teacher``: tensors ``(N, ...)`` of the same shape or sequences of them; the
    teacher is detached. Named ``FeatureMSELoss`` so that it does not replace mmdet's or mmseg's ``MSELoss``
    in their registries.
    """

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean',
                 level_weights: Optional[Sequence[float]] = None):
        super().__init__(loss_weight, level_weights)
        if reduction not in ('mean', 'batchsum'):
            raise ValueError(f"reduction must be 'mean' or 'batchsum', got {reduction!r}")
        self.reduction = reduction

    def one_level(self, s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        sq = (s - t.detach()).pow(2)
        return sq.mean() if self.reduction == 'mean' else sq.flatten(1).sum(1).mean()
