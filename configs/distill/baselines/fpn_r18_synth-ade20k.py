# Small offline student for segmentation distillation: Semantic FPN (stock mmseg model base) with mmseg's
# ResNetV1c-18, from scratch, on the generated ADE20K-format scenes — the same data, head and schedule as the
# LaViT-T teacher configs/lavit/fpn_lavit-t_synth-ade20k.py.
_base_ = '../../lavit/fpn_lavit-t_synth-ade20k.py'
model = dict(
    backbone=dict(_delete_=True, type='ResNetV1c', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                  dilations=(1, 1, 1, 1), strides=(1, 2, 2, 2), norm_cfg=dict(type='BN', requires_grad=True),
                  norm_eval=False, style='pytorch', contract_dilation=True, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512]))
custom_hooks = [dict(type='DivergenceGuardHook'), dict(type='RandomStateHook')]  # no LaViT: no auxiliary loss
