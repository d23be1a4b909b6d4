# PKD on a segmentor's FPN (ours: the paper distils detectors' FPNs) on the glyph scenes: Semantic FPN LaViT-S
# (teacher) -> Semantic FPN ResNetV1c-18, PKD on the four neck outputs (128 channels, strides 4-32 on both
# sides), weight 10 as in the detection recipe (not tuned here).
# Teacher first: python tools/train.py configs/lavit/fpn_lavit-s_glyph-ade20k.py
_base_ = '../baselines/fpn_r18_glyph-ade20k.py'
fpn = dict(recorder='fpn', levels=(0, 1, 2, 3))
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student=_base_.model,
    teacher=dict(config='configs/lavit/fpn_lavit-s_glyph-ade20k.py',
                 checkpoint='work_dirs/fpn_lavit-s_glyph-ade20k/iter_1200.pth'),
    recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    losses=dict(loss_pkd=dict(type='PKDLoss', loss_weight=10.0)),
    loss_inputs=dict(loss_pkd=dict(student=fpn, teacher=fpn)))
