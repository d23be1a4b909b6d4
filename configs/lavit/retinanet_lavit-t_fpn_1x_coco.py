# RetinaNet 1x on COCO 2017 with LaViT-T (stock mmdet bases; AdamW lr 1e-4, wd 1e-4).
_base_ = [
    '../_base_/models/retinanet_lavit-t_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
pretrained = 'work_dirs/lavit-t_8xb128_in1k/epoch_300.pth'
pretrain_config = 'configs/lavit/lavit-t_8xb128_in1k.py'
# with_cp: activation checkpointing, off as in mmdet's Swin-T config. True / 'block' checkpoints every
# backbone block, 'ffn' (ours) only the FFNs' hidden maps (--cfg-options model.backbone.with_cp=ffn); memory
# and time per CPU: docs/benchmarks.md, "Gradient checkpointing".
model = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'),
                           with_cp=False))
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-4))
offline_config = 'configs/lavit/retinanet_lavit-t_fpn_synth-coco.py'
