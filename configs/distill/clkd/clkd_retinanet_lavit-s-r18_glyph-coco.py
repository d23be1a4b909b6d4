# CLKD on a detector's classification logits (the dense form is ours) on the glyph scenes: RetinaNet LaViT-S
# (teacher) -> RetinaNet ResNet-18; every anchor of every position of every FPN level is an instance
# (layout 'dense'), the class level over all anchors of the batch; as
# clkd_retinanet_lavit-t-r18_synth-coco.py (our classification form's terms, weight 1: not tuned here).
# Teacher first: python tools/train.py configs/lavit/retinanet_lavit-s_fpn_glyph-coco.py
_base_ = '../baselines/retinanet_r18_fpn_glyph-coco.py'
anchors = dict(recorder='cls', call='all', layout='dense', num_classes=36)
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student=_base_.model,
    teacher=dict(config='configs/lavit/retinanet_lavit-s_fpn_glyph-coco.py',
                 checkpoint='work_dirs/retinanet_lavit-s_fpn_glyph-coco/epoch_36.pth'),
    recorders=dict(cls=dict(type='ModuleOutputs', source='bbox_head.retina_cls')),
    losses=dict(loss_clkd=dict(type='CLKDLoss', mu=0.5, beta=2.0, nu=0.4, loss_weight=1.0, warmup=20 / 240)),
    loss_inputs=dict(loss_clkd=dict(student=anchors, teacher=anchors)))
