# Small offline variant: RetinaNet + LaViT-T on the generated COCO-format shapes (CocoMetric, bbox).
_base_ = [
    '../_base_/models/retinanet_lavit-t_fpn.py',
    '../_base_/datasets/synth_coco_instance.py',
    '../_base_/schedules/schedule_synth-det.py',
    'mmdet::_base_/default_runtime.py',
]
model = dict(backbone=dict(drop_path_rate=0.0, la_key_grid=4),  # 4×4 pooled keys for the small inputs
             bbox_head=dict(num_classes=4),
             test_cfg=dict(max_per_img=20))
val_evaluator = dict(metric='bbox')
test_evaluator = val_evaluator
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=12, max_keep_ckpts=1))
