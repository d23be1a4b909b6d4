"""Connectors: learned or fixed maps between a recorded value and the loss that reads it, named in the
config per loss input (``loss_inputs.<loss>.<arg>.connector``), built and trained with the student.

* :class:`ChannelAdapter` — a 1×1 convolution from the student's channels to the teacher's, optionally with a
  norm layer (FitNet's regressor; mmrazor's ``ConvModuleConnector`` with kernel 1);
* :class:`SpatialResize` — resize to the other side's H × W (or a fixed size / scale factor), with the mode
  named in the config.

A connector is called as ``connector(x, ref)``, ``ref`` being the other side's value before its own
connectors (its size is the target of a :class:`SpatialResize`). A list in the config is a chain, applied in
order (:class:`ConnectorChain`). The distiller keeps them in ``connectors.<loss>.<arg>`` — in its state dict
and checkpoints, trained by the runner's optimizer — and ``distill_to_student.py`` drops them with the
teacher.
"""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmlavit.registry import build_model, register


@register('model')
class ChannelAdapter(BaseModule):
    """``(N, C_in, H, W) -> (N, C_out, H, W)``: a 1×1 convolution, then an optional norm and activation
    (mmcv's ``ConvModule``).

    Args:
        in_channels (int): the recorded map's channels (usually the student's).
        out_channels (int): the channels to map to (usually the teacher's).
        norm_cfg (dict, optional): e.g. ``dict(type='BN')``. Defaults to None (no norm, conv with bias).
        act_cfg (dict, optional): e.g. ``dict(type='ReLU')``. Defaults to None (linear).
        init_cfg (dict, optional): Defaults to None (ConvModule's Kaiming init).
    """

    def __init__(self, in_channels: int, out_channels: int, norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.conv = ConvModule(in_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: torch.Tensor, ref: Optional[torch.Tensor] = None) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'ChannelAdapter(in_channels={self.in_channels}) got a map of shape '
                             f'{tuple(x.shape)}: set in_channels to its channels (dim 1 of (N, C, H, W))')
        return self.conv(x)


@register('model')
class SpatialResize(nn.Module):
    """Resize ``(N, C, H, W)`` to the other side's ``H × W`` (default), to ``size`` or by ``scale_factor``.

    Args:
        mode (str): ``'nearest'``, ``'bilinear'``, ``'bicubic'``, ``'area'`` (``F.interpolate``) or
            ``'adaptive_avg'`` / ``'adaptive_max'`` (adaptive pooling, for shrinking a map to a smaller grid).
            No default: the config names it.
        size (int | Sequence[int], optional): a fixed output size. Defaults to None.
        scale_factor (float, optional): a fixed factor (interpolation modes only). Defaults to None.
        align_corners (bool, optional): for ``'bilinear'`` / ``'bicubic'``. Defaults to False there.
    """

    INTERPOLATE = ('nearest', 'bilinear', 'bicubic', 'area')
    POOL = ('adaptive_avg', 'adaptive_max')

    def __init__(self, mode: str, size: Optional[Union[int, Sequence[int]]] = None,
                 scale_factor: Optional[float] = None, align_corners: Optional[bool] = None):
        super().__init__()
        if mode not in self.INTERPOLATE + self.POOL:
            raise ValueError(f'SpatialResize mode must be one of {self.INTERPOLATE + self.POOL}, '
                             f'got {mode!r}')
        if size is not None and scale_factor is not None:
            raise ValueError('SpatialResize takes size or scale_factor, not both')
        if scale_factor is not None and mode in self.POOL:
            raise ValueError(f"SpatialResize(mode={mode!r}) takes a size (or the other side's), not a "
                             'scale_factor')
        if isinstance(size, int):
            size = (size, size)
        self.mode, self.scale_factor = mode, scale_factor
        self.size = None if size is None else tuple(size)
        self.align_corners = (align_corners if align_corners is not None else False) \
            if mode in ('bilinear', 'bicubic') else None

    def extra_repr(self) -> str:
        target = (f'size={self.size}' if self.size is not None else f'scale_factor={self.scale_factor}'
                  if self.scale_factor is not None else "size=the other side's")
        return f'mode={self.mode!r}, {target}'

    def forward(self, x: torch.Tensor, ref: Optional[torch.Tensor] = None) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f'SpatialResize takes (N, C, H, W) maps, got shape {tuple(x.shape)}')
        size, scale = self.size, self.scale_factor
        if size is None and scale is None:
            if not torch.is_tensor(ref) or ref.ndim != 4:
                raise ValueError("SpatialResize without size/scale_factor resizes to the other side's H x W, "
                                 'but the other side is not an (N, C, H, W) map: give size=...')
            size = tuple(ref.shape[2:])
        if size is not None and tuple(x.shape[2:]) == size:
            return x  # already there: the identity (a no-op connector, not an error)
        if self.mode in self.POOL:
            pool = F.adaptive_avg_pool2d if self.mode == 'adaptive_avg' else F.adaptive_max_pool2d
            return pool(x, size)
        return F.interpolate(x, size=size, scale_factor=scale, mode=self.mode,
                             align_corners=self.align_corners)


class ConnectorChain(nn.ModuleList):
    """Connectors applied in order, each called with ``(x, ref)``."""

    def forward(self, x: torch.Tensor, ref=None) -> torch.Tensor:
        for c in self:
            x = c(x, ref)
        return x


def build_connector(cfg: Union[dict, Sequence[dict]], where: str) -> ConnectorChain:
    """A :class:`ConnectorChain` from one connector config or a list of them (a chain)."""
    cfgs = [cfg] if isinstance(cfg, dict) else list(cfg)
    if not cfgs or not all(isinstance(c, dict) and 'type' in c for c in cfgs):
        raise ValueError(f"{where}: a connector is dict(type='ChannelAdapter' | 'SpatialResize', ...) or a "
                         f'list of them (applied in order), got {cfg!r}')
    mods = []
    for c in cfgs:
        m = build_model(dict(c))
        if not isinstance(m, nn.Module):
            raise TypeError(f'{where}: connector {c["type"]!r} built a {type(m).__name__}, not a module')
        mods.append(m)
    return ConnectorChain(mods)
