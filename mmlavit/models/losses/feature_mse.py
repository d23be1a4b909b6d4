"""Feature mimicking by squared error, FitNet style (Romero et al., ICLR 2015)."""
from typing import Optional, Sequence

import torch
import torch.nn as nn

from mmlavit.registry import register

from .multi_level import Maps, check_feature_pairs, check_same_shape, sum_levels


@register('model')
class FeatureMSELoss(nn.Module):
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
        super().__init__()
        if reduction not in ('mean', 'batchsum'):
            raise ValueError(f"reduction must be 'mean' or 'batchsum', got {reduction!r}")
        self.loss_weight, self.reduction, self.level_weights = loss_weight, reduction, level_weights

    def check_inputs(self, inputs: dict, key: str, where: str) -> None:
        """The distiller's hook: each level's maps have the same shape, else an error naming the
        recorders, both shapes and the connector to add."""
        check_feature_pairs(inputs, key, where, self.level_weights)

    def _one(self, s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        check_same_shape(s, t, 'FeatureMSELoss')
        sq = (s - t.detach()).pow(2)
        return sq.mean() if self.reduction == 'mean' else sq.flatten(1).sum(1).mean()

    def forward(self, student: Maps, teacher: Maps) -> torch.Tensor:
        return self.loss_weight * sum_levels(self._one, student, teacher, self.level_weights,
                                             'FeatureMSELoss')
