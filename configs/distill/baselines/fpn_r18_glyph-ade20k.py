# Small offline student on the glyph scenes (ADE20K layout, 37 classes): Semantic FPN (stock mmseg model base)
# with mmseg's ResNetV1c-18, from scratch — the data and head of its LaViT-S teacher
# configs/lavit/fpn_lavit-s_glyph-ade20k.py, and the 400-iteration schedule of the small configs (the teacher
# trains 1200). The student alone of the glyph-scene distillation leaves.
_base_ = '../../lavit/fpn_lavit-s_glyph-ade20k.py'
max_iters = 400
model = dict(
    backbone=dict(_delete_=True, type='ResNetV1c', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                  dilations=(1, 1, 1, 1), strides=(1, 2, 2, 2), norm_cfg=dict(type='BN', requires_grad=True),
                  norm_eval=False, style='pytorch', contract_dilation=True, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512]))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=40),
    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=40, end=max_iters, by_epoch=False)
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
custom_hooks = [dict(type='DivergenceGuardHook'), dict(type='RandomStateHook')]  # no LaViT: no auxiliary loss
