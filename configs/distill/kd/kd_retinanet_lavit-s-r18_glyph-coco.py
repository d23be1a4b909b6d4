# KD on a detector's logits on the glyph scenes: RetinaNet LaViT-S (teacher) -> RetinaNet ResNet-18, KD (T 2,
# weight 1) on the dense head's class logits (bbox_head.retina_cls on every FPN level, one row of 36 classes
# per anchor and position: layout 'dense'). Data, fonts and commands: configs/distill/baselines/README.md.
# Teacher first: python tools/train.py configs/lavit/retinanet_lavit-s_fpn_glyph-coco.py
_base_ = '../baselines/retinanet_r18_fpn_glyph-coco.py'
cls_logits = dict(recorder='cls', call='all', layout='dense', num_classes=36)
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student=_base_.model,
    teacher=dict(config='configs/lavit/retinanet_lavit-s_fpn_glyph-coco.py',
                 checkpoint='work_dirs/retinanet_lavit-s_fpn_glyph-coco/epoch_36.pth'),
    recorders=dict(cls=dict(type='ModuleOutputs', source='bbox_head.retina_cls')),
    losses=dict(loss_kd=dict(type='KDLoss', temperature=2.0, loss_weight=1.0)),
    loss_inputs=dict(loss_kd=dict(student=cls_logits, teacher=cls_logits)))
