# Small offline CWD: Semantic FPN LaViT-T (teacher) -> Semantic FPN ResNetV1c-18 on the generated
# ADE20K-format scenes, CWD on the decode head's logits (conv_seg, same classes and stride on both sides), the
# full-size recipe's tau 1 and weight 5. Teacher first:
#   python tools/train.py configs/lavit/fpn_lavit-t_synth-ade20k.py
_base_ = '../baselines/fpn_r18_synth-ade20k.py'
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student=_base_.model,
    teacher=dict(config='configs/lavit/fpn_lavit-t_synth-ade20k.py',
                 checkpoint='work_dirs/fpn_lavit-t_synth-ade20k/iter_400.pth'),
    recorders=dict(logits=dict(type='ModuleOutputs', source='decode_head.conv_seg')),
    losses=dict(loss_cwd=dict(type='ChannelWiseDivergence', tau=1.0, loss_weight=5.0)),
    loss_inputs=dict(loss_cwd=dict(student='logits', teacher='logits')))
