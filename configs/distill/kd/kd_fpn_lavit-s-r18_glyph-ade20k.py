# KD on segmentation logits on the glyph scenes: Semantic FPN LaViT-S (teacher) -> Semantic FPN ResNetV1c-18,
# per-pixel KD (T 1, weight 1) on the decode head's classifier (decode_head.conv_seg, layout 'nchw').
# Teacher first: python tools/train.py configs/lavit/fpn_lavit-s_glyph-ade20k.py
_base_ = '../baselines/fpn_r18_glyph-ade20k.py'
pix_logits = dict(recorder='logits', layout='nchw')
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student=_base_.model,
    teacher=dict(config='configs/lavit/fpn_lavit-s_glyph-ade20k.py',
                 checkpoint='work_dirs/fpn_lavit-s_glyph-ade20k/iter_1200.pth'),
    recorders=dict(logits=dict(type='ModuleOutputs', source='decode_head.conv_seg')),
    losses=dict(loss_kd=dict(type='KDLoss', temperature=1.0, loss_weight=1.0)),
    loss_inputs=dict(loss_kd=dict(student=pix_logits, teacher=pix_logits)))
