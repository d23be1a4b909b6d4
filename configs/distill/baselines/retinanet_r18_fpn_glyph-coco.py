# Small offline student on the glyph scenes (COCO layout, 36 classes): RetinaNet (stock mmdet model base) with
# mmdet's ResNet-18, from scratch — the data and head of its LaViT-S teacher
# configs/lavit/retinanet_lavit-s_fpn_glyph-coco.py, and the 12-epoch schedule of the small configs (the
# teacher trains 36). The student alone of the glyph-scene distillation leaves.
_base_ = '../../lavit/retinanet_lavit-s_fpn_glyph-coco.py'
max_epochs = 12
model = dict(
    backbone=dict(_delete_=True, type='ResNet', depth=18, num_stages=4, out_indices=(1, 2, 3),
                  frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
                  style='pytorch', init_cfg=None),
    neck=dict(in_channels=[128, 256, 512]))  # P3-P5 from stages 1-3 as in the teacher, so the levels align
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, eta_min=1e-5)
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
custom_hooks = [dict(type='DivergenceGuardHook'), dict(type='RandomStateHook')]  # no LaViT: no auxiliary loss
