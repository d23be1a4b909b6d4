# CWD on FPN features on the glyph scenes (a positive control of the study): RetinaNet LaViT-S (teacher) ->
# RetinaNet ResNet-18, mmrazor's RetinaNet recipe (the five neck outputs, tau 1, weight 10 each) as one loss
# over the five levels; both necks give 256 channels at the same strides, so no connector.
# Teacher first: python tools/train.py configs/lavit/retinanet_lavit-s_fpn_glyph-coco.py
_base_ = '../baselines/retinanet_r18_fpn_glyph-coco.py'
fpn = dict(recorder='fpn', levels=(0, 1, 2, 3, 4))
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student=_base_.model,
    teacher=dict(config='configs/lavit/retinanet_lavit-s_fpn_glyph-coco.py',
                 checkpoint='work_dirs/retinanet_lavit-s_fpn_glyph-coco/epoch_36.pth'),
    recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    losses=dict(loss_cwd=dict(type='ChannelWiseDivergence', tau=1.0, loss_weight=10.0)),
    loss_inputs=dict(loss_cwd=dict(student=fpn, teacher=fpn)))
