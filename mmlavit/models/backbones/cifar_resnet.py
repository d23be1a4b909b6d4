"""The CIFAR ResNets of the KD literature (resnet8/14/20/32/44/56/110, resnet8x4, resnet32x4).

He et al.'s 3-stage CIFAR design (``6n + 2`` layers of basic blocks, a 3×3 stem, no max-pool) in the widths
used by the CRD/DKD/CLKD benchmarks: ``(16, 16, 32, 64)`` for resnetN and ``(32, 64, 128, 256)`` for the
"x4" variants. mmpretrain's ``ResNet_CIFAR`` is the ImageNet ResNet with a CIFAR stem (depths 18-152), which
is a different model family; these are the teacher/student pairs the papers report
(resnet32x4 -> resnet8x4, resnet56 -> resnet20, resnet110 -> resnet32).

Shapes: ``(B, 3, 32, 32)`` -> stage ``i`` ``(B, C_i, 32/2^i, 32/2^i)``, ``i = 0, 1, 2``.
"""
from typing import Sequence

import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmlavit.registry import register


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


@register('model')
class CifarResNet(BaseModule):
    """Args:
        arch: ``'resnet8'`` ... ``'resnet110'``, ``'resnet8x4'``, ``'resnet32x4'``, and the narrow
            ``'resnet8x0.5'`` / ``'resnet8x0.25'`` (half / quarter of resnet8's widths).
        out_indices: stages to return (0-2); the last one feeds the classifier (GAP + linear).
    """
    arch_zoo = {
        **{f'resnet{d}': (d, (16, 16, 32, 64)) for d in (8, 14, 20, 32, 44, 56, 110)},
        'resnet8x4': (8, (32, 64, 128, 256)),
        'resnet8x0.5': (8, (8, 8, 16, 32)),  # narrow students for the small real-data study (digits)
        'resnet8x0.25': (8, (4, 4, 8, 16)),
        'resnet32x4': (32, (32, 64, 128, 256)),
    }

    def __init__(self, arch: str = 'resnet20', out_indices: Sequence[int] = (2,), init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if arch not in self.arch_zoo:
            raise KeyError(f'arch {arch!r} is not one of {sorted(self.arch_zoo)}')
        depth, widths = self.arch_zoo[arch]
        n = (depth - 2) // 6
        self.out_indices = tuple(i + 3 if i < 0 else i for i in out_indices)
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]),
                                  nn.ReLU(inplace=True))
        self.layers = nn.ModuleList()
        cin = widths[0]
        for i, w in enumerate(widths[1:]):
            blocks = [BasicBlock(cin if j == 0 else w, w, 2 if (j == 0 and i > 0) else 1) for j in range(n)]
            self.layers.append(nn.Sequential(*blocks))
            cin = w
        self.out_channels = [widths[1:][i] for i in self.out_indices]

    def init_weights(self):
        if self.init_cfg is not None:  # e.g. Pretrained
            return super().init_weights()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        """``(B, 3, H, W)`` -> tuple of ``(B, C_i, H/2^i, W/2^i)`` for ``i`` in ``out_indices``."""
        x = self.stem(x)
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
