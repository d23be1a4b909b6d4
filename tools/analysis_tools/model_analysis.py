"""Helpers shared by the analysis tools: build a trained model from (config, checkpoint), collect LaViT's
per-layer attention maps, and compare successive maps."""
from typing import Dict, List, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from mmlavit.models import LaViT


def build_model(config: Union[str, Config], checkpoint: str = None, device: str = 'cpu'):
    """The config's model (any of mmpretrain/mmdet/mmseg; a path or a loaded :class:`Config`), weights from
    ``checkpoint``, in eval mode. As mmengine's Runner does, the config's top-level ``data_preprocessor`` is
    the model's unless the model sets its own (so inputs are normalised as in training)."""
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    scope = cfg.get('default_scope', 'mmlavit')
    init_default_scope(scope)
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    if isinstance(model_cfg.get('backbone'), dict):
        model_cfg['backbone'] = dict(model_cfg['backbone'], init_cfg=None)
    model = registry.build(model_cfg)
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    return cfg, model.to(device).eval()


def find_lavit(model: torch.nn.Module) -> LaViT:
    for m in model.modules():
        if isinstance(m, LaViT):
            return m
    raise ValueError('the model has no LaViT backbone')


@torch.no_grad()
def attention_maps(model: torch.nn.Module, images: torch.Tensor) -> Tuple[List[torch.Tensor], List[Tuple]]:
    """Softmax attention of every layer, ``[(B, h, N, M)]``, and ``(stage, layer, mode)`` per entry.
    ``images`` are already normalised ``(B, 3, H, W)``."""
    backbone = find_lavit(model)
    backbone.record_attention = True
    try:
        backbone(images)
        maps = backbone.attention_maps
    finally:
        backbone.record_attention = False
        backbone.attention_maps = []
    where = [(i, j, blk.mode) for i, stage in enumerate(backbone.stages)
             for j, blk in enumerate(stage.blocks)]
    return maps, where


def _pool_keys(t: torch.Tensor, m: int) -> torch.Tensor:
    """Sum attention mass onto ``m`` keys (square key grids pooled in 2-D, others along the flat axis), so
    maps over different key sets compare as distributions over the same coarse keys."""
    b, h, n, k = t.shape
    if k == m:
        return t
    side, side_m = int(round(k ** 0.5)), int(round(m ** 0.5))
    if side * side == k and side_m * side_m == m:
        pooled = F.adaptive_avg_pool2d(t.reshape(b * h, n, side, side), side_m).reshape(b, h, n, m)
    else:
        pooled = F.adaptive_avg_pool1d(t.reshape(b * h, n, k), m).reshape(b, h, n, m)
    return pooled * (k / m)


def successive_similarity(maps: List[torch.Tensor], where: List[Tuple]) -> List[Dict]:
    """Cosine similarity between each layer's map and the previous layer's, within a stage (same token
    counts), per image and head, then averaged. High values = saturated (redundant) attention."""
    out = []
    for k in range(1, len(maps)):
        (s0, _, _), (s1, j, mode) = where[k - 1], where[k]
        if s0 != s1:
            continue
        a, b = maps[k - 1], maps[k]
        if a.shape[1] != b.shape[1]:
            continue
        if a.shape[-1] != b.shape[-1]:  # a pooled-key LA map (G² keys) after a VA map (M keys)
            m = min(a.shape[-1], b.shape[-1])
            a, b = _pool_keys(a, m), _pool_keys(b, m)
        a, b = a.flatten(2), b.flatten(2)
        cos = F.cosine_similarity(a, b, dim=-1)  # (B, h)
        out.append(dict(stage=s1, layer=j, mode=mode, cos=cos.mean().item(), std=cos.std().item()))
    return out
