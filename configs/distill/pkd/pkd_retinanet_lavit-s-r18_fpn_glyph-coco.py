# PKD on the glyph scenes (a positive control of the study): RetinaNet LaViT-S (teacher) -> RetinaNet
# ResNet-18, PKD on all five neck outputs (256 channels, the same strides on both sides), weight 10 as in the
# full-size recipe. Teacher first: python tools/train.py configs/lavit/retinanet_lavit-s_fpn_glyph-coco.py
_base_ = '../baselines/retinanet_r18_fpn_glyph-coco.py'
fpn = dict(recorder='fpn', levels=(0, 1, 2, 3, 4))
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student=_base_.model,
    teacher=dict(config='configs/lavit/retinanet_lavit-s_fpn_glyph-coco.py',
                 checkpoint='work_dirs/retinanet_lavit-s_fpn_glyph-coco/epoch_36.pth'),
    recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    losses=dict(loss_pkd=dict(type='PKDLoss', loss_weight=10.0)),
    loss_inputs=dict(loss_pkd=dict(student=fpn, teacher=fpn)))
