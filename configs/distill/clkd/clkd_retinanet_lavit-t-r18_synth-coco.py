# CLKD on a detector's classification logits (the dense form is ours): RetinaNet LaViT-T (teacher) ->
# RetinaNet ResNet-18 on the generated COCO-format shapes. Every anchor of every position of every FPN level
# is an instance (bbox_head.retina_cls on each level, call='all', layout 'dense': (B, A·C, H, W) -> (B·H·W·A,
# C) rows, the levels concatenated), so the class level normalises each class's scores over all anchors of the
# batch. RetinaNet's scores are per-class sigmoid logits (no background column); CLKD normalises them as any
# logits. Our classification form's terms, weight 1: not tuned on dense outputs. Teacher first:
#   python tools/train.py configs/lavit/retinanet_lavit-t_fpn_synth-coco.py
_base_ = '../baselines/retinanet_r18_fpn_synth-coco.py'
anchors = dict(recorder='cls', call='all', layout='dense', num_classes=4)
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student=_base_.model,
    teacher=dict(config='configs/lavit/retinanet_lavit-t_fpn_synth-coco.py',
                 checkpoint='work_dirs/retinanet_lavit-t_fpn_synth-coco/epoch_12.pth'),
    recorders=dict(cls=dict(type='ModuleOutputs', source='bbox_head.retina_cls')),
    losses=dict(loss_clkd=dict(type='CLKDLoss', mu=0.5, beta=2.0, nu=0.4, loss_weight=1.0, warmup=20 / 240)),
    loss_inputs=dict(loss_clkd=dict(student=anchors, teacher=anchors)))
