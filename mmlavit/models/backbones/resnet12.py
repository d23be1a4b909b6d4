"""ResNet-12, the deeper few-shot backbone (Oreshkin et al.; MetaOptNet; BOIL's ResNet-12 runs).

Four residual blocks, each ``3 × (3×3 conv -> BN -> LeakyReLU 0.1)`` with a 1×1-conv shortcut, then 2×2
max-pool; widths 64-160-320-640 (``'wide'``) or 64-128-256-512. Batch norm uses batch statistics
(``track_running_stats=False``) as in the MAML family.

Shapes: ``(B, 3, 84, 84) -> (B, C_4, 5, 5)``; ``flatten=True`` (default) global-average-pools to ``(B, C_4)``.
"""
from typing import Sequence

import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmlavit.registry import register


class ResBlock12(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=False)
                                    for i in range(3)])
        self.bns = nn.ModuleList([nn.BatchNorm2d(cout, track_running_stats=False) for _ in range(3)])
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False),
                                      nn.BatchNorm2d(cout, track_running_stats=False))

    def forward(self, x):
        out = x
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            out = bn(conv(out))
            if i < 2:
                out = F.leaky_relu(out, 0.1)
        return F.max_pool2d(F.leaky_relu(out + self.shortcut(x), 0.1), 2)


@register('model')
class ResNet12(BaseModule):
    """Args:
        channels: the four block widths.
        flatten: global-average-pool to ``(B, C)`` (else return the ``(B, C, h, w)`` map).
    """

    def __init__(self, channels: Sequence[int] = (64, 160, 320, 640), flatten: bool = True, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        widths = [3] + list(channels)
        self.blocks = nn.Sequential(*[ResBlock12(widths[i], widths[i + 1]) for i in range(4)])
        self.flatten = flatten
        self.out_channels = channels[-1]

    def forward(self, x):
        need = 2 ** len(self.blocks)  # each block ends with a 2x2 max-pool (floor)
        if min(x.shape[-2:]) < need:
            raise ValueError(f'ResNet12: input {tuple(x.shape[-2:])} is under {need} px a side, the least '
                             'its 4 blocks (each ending in a 2x2 max-pool) keep a 1x1 map of: feed larger '
                             "images (the pipeline's Resize, the model's img_size)")
        x = self.blocks(x)
        return x.mean(dim=(2, 3)) if self.flatten else x
