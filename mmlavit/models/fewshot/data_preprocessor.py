"""Moves a batch of episodes to the device and normalises its images."""
from typing import Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from mmlavit.registry import register


@register('model')
class EpisodeDataPreprocessor(BaseDataPreprocessor):
    """``uint8 (B, 3, H, W)`` support/query images -> ``float``, ``(x − mean) / std``, BGR -> RGB when
    ``to_rgb`` (mmcv loads BGR). The batch is what ``pseudo_collate`` makes of :class:`EpisodicDataset`
    items: a dict of lists, one entry per task. Returns ``dict(inputs=<that dict>, data_samples=None)``."""

    def __init__(self, mean: Optional[Sequence[float]] = (120.39586422, 115.59361427, 104.54012653),
                 std: Optional[Sequence[float]] = (70.68188272, 68.27635443, 72.54505529),
                 to_rgb: bool = True,
                 non_blocking: bool = False):
        super().__init__(non_blocking)
        self.to_rgb = to_rgb
        self.register_buffer('mean', torch.tensor(mean).view(1, 3, 1, 1), False)
        self.register_buffer('std', torch.tensor(std).view(1, 3, 1, 1), False)

    def _norm(self, x: torch.Tensor) -> torch.Tensor:
        if self.to_rgb:
            x = x.flip(1)
        return (x.float() - self.mean) / self.std

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        out = dict(data)
        for key in ('support_img', 'query_img'):
            out[key] = [self._norm(x) for x in data[key]]
        return dict(inputs=out, data_samples=None)
