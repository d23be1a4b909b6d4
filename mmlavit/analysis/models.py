"""One way to build what the analysis tools measure: a backbone by its table name (the LaViT variants and
timm's and mmdet's peers), or a whole model from a config (a file, or an ``mmlavit::``/``mmdet::``/
``mmseg::``/``mmpretrain::`` name) with random or checkpoint weights. Nothing is downloaded: every
``Pretrained`` initialisation of a config is dropped."""
import copy
from typing import Optional, Sequence, Tuple

import torch

# LaViT-X with a variant suffix: '' the defaults (the paper's softmax chain); 'twin' every layer VA;
# 'scores' our chain switch; 'cp' activation checkpointing of every block
LAVIT_VARIANTS = {'': {}, ' twin': dict(all_attention=True), ' scores': dict(la_chain='scores'),
                  ' cp': dict(with_cp=True)}
LAVIT_ARCHS = {'T': 'tiny', 'S': 'small', 'B': 'base'}
PVT_LAYERS = {'b1': [2, 2, 2, 2], 'b2': [3, 4, 6, 3], 'b3': [3, 4, 18, 3]}
PEERS = [f'{impl} {net}' for impl in ('timm', 'mmdet')
         for net in ['PVTv2-b1', 'PVTv2-b2', 'PVTv2-b3', 'Swin-T']]
BACKBONES = [f'LaViT-{a}{v}' for v in LAVIT_VARIANTS for a in LAVIT_ARCHS] + PEERS


def _timm():
    try:
        import timm
    except ImportError as e:
        raise ImportError(
            'the timm peers need timm: pip install timm==1.0.31 (or leave them out of the models)') from e
    return timm


def build_backbone(name: str, shape: Sequence[int] = (224, 224)) -> torch.nn.Module:
    """A backbone by its table name (one of :data:`BACKBONES`), returning its 4 stage feature maps, with its
    own initialisation (``init_weights`` where it has one) and no stochastic depth.

    Args:
        name (str): ``'LaViT-T'``/``'LaViT-S'``/``'LaViT-B'`` with an optional variant suffix (``' twin'``,
            ``' scores'``, ``' cp'``), or ``'timm <net>'``/``'mmdet <net>'`` for ``PVTv2-b1/b2/b3`` and
            ``Swin-T``.
        shape (Sequence[int]): Input (H, W); timm's Swin needs it to size its windows. Defaults to (224, 224).
    """
    if name not in BACKBONES:
        raise KeyError(f'unknown model {name!r}; known: {BACKBONES}')
    if name.startswith('LaViT'):
        from mmlavit.models import LaViT
        arch, variant = name[len('LaViT-')], name[len('LaViT-X'):]
        model = LaViT(LAVIT_ARCHS[arch], drop_path_rate=0., **LAVIT_VARIANTS[variant])
    else:
        impl, net = name.split(' ', 1)
        if impl == 'timm' and net.startswith('PVTv2'):
            model = _timm().create_model(f"pvt_v2_{net.split('-')[1]}", pretrained=False, features_only=True,
                                         drop_path_rate=0.)
        elif impl == 'timm':
            model = _timm().create_model('swin_tiny_patch4_window7_224', pretrained=False, features_only=True,
                                         img_size=tuple(shape), strict_img_size=False)
        elif net.startswith('PVTv2'):
            from mmdet.models.backbones import PyramidVisionTransformerV2
            model = PyramidVisionTransformerV2(embed_dims=64, num_layers=PVT_LAYERS[net.split('-')[1]])
        else:
            from mmdet.models.backbones import SwinTransformer
            model = SwinTransformer(embed_dims=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
                                    window_size=7)
    if hasattr(model, 'init_weights'):
        model.init_weights()
    return model


def strip_pretrained(cfg) -> None:
    """Drop, in place, every ``init_cfg`` that loads a checkpoint (type ``Pretrained``, or mmdet's PVT form
    with only ``checkpoint``) and every ``pretrained`` path: the analysis tools download nothing."""
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and (init.get('type') == 'Pretrained' or 'checkpoint' in init):
            cfg['init_cfg'] = None
        if isinstance(cfg.get('pretrained'), str):
            cfg['pretrained'] = None
        for v in cfg.values():
            strip_pretrained(v)
    elif isinstance(cfg, (list, tuple)):
        for v in cfg:
            strip_pretrained(v)


def load_config(config, backbone: Optional[dict] = None, neck_channels: Optional[Sequence[int]] = None,
                extra: Optional[dict] = None):
    """``(cfg, model_cfg)`` of a config, with the model changed as asked and ``Pretrained`` inits dropped.

    Args:
        config (str | Config): A config file, an ``mmlavit::``/``mmdet::``/``mmseg::``/``mmpretrain::``
            name, or a loaded :class:`~mmengine.config.Config`.
        backbone (dict, optional): Merged into ``model.backbone`` (with ``_delete_=True`` it replaces it).
        neck_channels (Sequence[int], optional): The neck's ``in_channels`` (for another backbone's widths).
        extra (dict, optional): Merged into ``model``.

    Returns:
        tuple: The config and a copy of its ``model`` (a ``ConfigDict``: heads read ``test_cfg`` by
        attribute) that also carries the config's top-level ``data_preprocessor`` unless it sets its own, as
        mmengine's Runner builds it.
    """
    from mmengine.config import Config
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
    elif '::' in config:  # a config of an installed package, e.g. mmdet::pvt/...
        from mmengine.hub import get_config
        cfg = get_config(config)
    else:
        cfg = Config.fromfile(config)
    override = dict(extra or {})
    if backbone is not None:
        override['backbone'] = copy.deepcopy(backbone)
    if neck_channels is not None:
        override['neck'] = dict(in_channels=list(neck_channels))
    if override:
        cfg.merge_from_dict(dict(model=override), allow_list_keys=False)
    model = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        model.setdefault('data_preprocessor', copy.deepcopy(cfg.data_preprocessor))
    strip_pretrained(model)
    return cfg, model


def build_model(config, checkpoint: Optional[str] = None, device: str = 'cpu', scope: Optional[str] = None,
                backbone: Optional[dict] = None, neck_channels: Optional[Sequence[int]] = None,
                extra: Optional[dict] = None) -> Tuple[object, torch.nn.Module]:
    """``(cfg, model)``: the config's model (mmpretrain, mmdet or mmseg) in eval mode on ``device``.

    Args:
        config (str | Config): As for :func:`load_config`.
        checkpoint (str, optional): Weights to load; without one the model is initialised
            (``init_weights``), with random weights where the config would load pretrained ones.
        device (str): Defaults to 'cpu'.
        scope (str, optional): The registry scope that builds the model. Defaults to the config's
            ``default_scope`` (``'mmlavit'`` where it sets none).
        backbone, neck_channels, extra: As for :func:`load_config`.
    """
    from mmengine.registry import init_default_scope
    cfg, model_cfg = load_config(config, backbone, neck_channels, extra)
    scope = scope or cfg.get('default_scope', None) or 'mmlavit'
    init_default_scope(scope)
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    model = registry.build(model_cfg)
    if checkpoint:
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    else:
        from mmengine.logging import MMLogger
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel('WARNING')  # init_weights logs every parameter's initialiser
        try:
            model.init_weights()
        finally:
            logger.setLevel(level)
    return cfg, model.to(device).eval()


def count_params(model: torch.nn.Module) -> float:
    """Parameters in millions."""
    return sum(p.numel() for p in model.parameters()) / 1e6


class AttentionLayer(torch.nn.Module):
    """One LaViT attention layer as a module of ``(x, prev)`` -> output tokens (B, N, C), for timing and FLOP
    counting a layer alone: ``x`` (B, N, C) on the ``hw`` query grid; ``prev`` (B, h, N, G) the previous
    layer's map on the ``prev_k_hw`` key grid (an LA layer's input), or None (a VA layer)."""

    def __init__(self, attn: torch.nn.Module, hw, prev_k_hw=None):
        super().__init__()
        self.attn, self.hw, self.prev_k_hw = attn, hw, prev_k_hw

    def forward(self, x, prev=None):
        from mmlavit.models.backbones.lavit_ops import ScoreMap
        prev = None if prev is None else ScoreMap(prev, self.hw, self.prev_k_hw)
        return self.attn(x, self.hw, prev, chain='pooled' if prev is not None else None)[0]
