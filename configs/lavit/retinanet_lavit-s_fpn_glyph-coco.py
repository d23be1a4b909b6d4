# Small offline teacher for detection distillation on the glyph scenes: RetinaNet + LaViT-S from scratch on
# the COCO-layout glyph scenes (36 classes, CocoMetric bbox), trained 3x as long as its R-18 students
# (36 epochs; configs/distill/baselines/retinanet_r18_fpn_glyph-coco.py: 12).
#   python tools/dataset_converters/glyph_scenes.py coco data/glyph_coco
_base_ = [
    '../_base_/models/retinanet_lavit-t_fpn.py',
    '../_base_/datasets/glyph_coco_instance.py',
    '../_base_/schedules/schedule_synth-det.py',
    'mmdet::_base_/default_runtime.py',
]
max_epochs = 36
model = dict(backbone=dict(arch='small', drop_path_rate=0.1, la_key_grid=4),  # 4x4 pooled keys: small inputs
             bbox_head=dict(num_classes=36),
             test_cfg=dict(max_per_img=50))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, eta_min=1e-5)
]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
