# Small offline teacher for segmentation distillation on the glyph scenes: Semantic FPN + LaViT-S from scratch
# on the ADE20K-layout glyph scenes (37 classes: background + 36 characters, IoUMetric mIoU), trained 3x as
# long as its R-18 students (1200 iterations; configs/distill/baselines/fpn_r18_glyph-ade20k.py: 400).
# BN instead of SyncBN so that it runs on one CPU process.
#   python tools/dataset_converters/glyph_scenes.py ade20k data/glyph_ade20k
_base_ = [
    '../_base_/models/fpn_lavit-t.py',
    '../_base_/datasets/glyph_ade20k.py',
    '../_base_/schedules/schedule_synth-seg.py',
    'mmseg::_base_/default_runtime.py',
]
max_iters = 1200
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(data_preprocessor=dict(size={{_base_.crop_size}}),
             backbone=dict(arch='small', drop_path_rate=0.1, la_key_grid=4),  # 4x4 pooled keys: small inputs
             neck=dict(out_channels=128),
             decode_head=dict(in_channels=[128, 128, 128, 128], channels=64, norm_cfg=norm_cfg,
                              num_classes=37))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=40),
    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=40, end=max_iters, by_epoch=False)
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
