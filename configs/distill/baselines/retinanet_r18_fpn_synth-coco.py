# Small offline student for detection distillation: RetinaNet (stock mmdet model base) with mmdet's ResNet-18,
# from scratch, on the generated COCO-format shapes — the same data, heads and schedule as the LaViT-T teacher
# configs/lavit/retinanet_lavit-t_fpn_synth-coco.py.
_base_ = '../../lavit/retinanet_lavit-t_fpn_synth-coco.py'
model = dict(
    backbone=dict(_delete_=True, type='ResNet', depth=18, num_stages=4, out_indices=(1, 2, 3),
                  frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
                  style='pytorch', init_cfg=None),
    neck=dict(in_channels=[128, 256, 512]))  # P3-P5 from stages 1-3 as in the teacher, so the levels align
custom_hooks = [dict(type='DivergenceGuardHook'), dict(type='RandomStateHook')]  # no LaViT: no auxiliary loss
