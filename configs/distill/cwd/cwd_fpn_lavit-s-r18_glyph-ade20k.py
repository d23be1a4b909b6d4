# CWD on segmentation logits on the glyph scenes (a positive control of the study): Semantic FPN LaViT-S
# (teacher) -> Semantic FPN ResNetV1c-18, CWD on the decode head's logits (conv_seg: 37 classes, the same
# stride on both sides), the full-size recipe's tau 1 and weight 5.
# Teacher first: python tools/train.py configs/lavit/fpn_lavit-s_glyph-ade20k.py
_base_ = '../baselines/fpn_r18_glyph-ade20k.py'
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student=_base_.model,
    teacher=dict(config='configs/lavit/fpn_lavit-s_glyph-ade20k.py',
                 checkpoint='work_dirs/fpn_lavit-s_glyph-ade20k/iter_1200.pth'),
    recorders=dict(logits=dict(type='ModuleOutputs', source='decode_head.conv_seg')),
    losses=dict(loss_cwd=dict(type='ChannelWiseDivergence', tau=1.0, loss_weight=5.0)),
    loss_inputs=dict(loss_cwd=dict(student='logits', teacher='logits')))
