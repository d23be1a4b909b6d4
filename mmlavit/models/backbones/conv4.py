"""Conv-4, the few-shot learning backbone of MAML/ANIL/BOIL (Vinyals et al., Finn et al.).

Four blocks of ``3×3 conv (64 channels) -> BatchNorm -> ReLU -> 2×2 max-pool``. Batch norm uses the
statistics of the batch it sees (``track_running_stats=False``), as the MAML family does transductively, so
a task's support and query sets are normalised by their own statistics at meta-train and meta-test alike.

Shapes: ``(B, 3, 84, 84) -> (B, 64, 5, 5)`` (``(B, 3, 32, 32) -> (B, 64, 2, 2)``); ``flatten=True`` returns
``(B, 64·h·w)``.
"""
import torch.nn as nn
from mmengine.model import BaseModule

from mmlavit.registry import register


def conv_block(cin: int, cout: int, pool: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout, track_running_stats=False),
              nn.ReLU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


@register('model')
class Conv4(BaseModule):
    """Args:
        channels: width of every block (64 in the papers; 32 in some MAML miniImageNet runs).
        num_blocks: 4.
        flatten: return ``(B, D)`` features instead of maps.
    """

    def __init__(self, in_channels: int = 3, channels: int = 64, num_blocks: int = 4, flatten: bool = True,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.blocks = nn.Sequential(*[conv_block(in_channels if i == 0 else channels, channels)
                                      for i in range(num_blocks)])
        self.flatten = flatten
        self.out_channels = channels

    def forward(self, x):
        need = 2 ** len(self.blocks)  # each block halves the map (2x2 max-pool, floor)
        if min(x.shape[-2:]) < need:
            raise ValueError(f'Conv4: input {tuple(x.shape[-2:])} is under {need} px a side, the least its '
                             f'{len(self.blocks)} blocks (each a 2x2 max-pool) keep a 1x1 map of: feed '
                             "larger images (the pipeline's Resize, the model's img_size) or set num_blocks "
                             'lower')
        x = self.blocks(x)
        return x.flatten(1) if self.flatten else x
