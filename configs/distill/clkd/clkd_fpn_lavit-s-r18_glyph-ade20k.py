# CLKD on segmentation logits (the dense form is ours) on the glyph scenes: Semantic FPN LaViT-S (teacher) ->
# Semantic FPN ResNetV1c-18; each pixel of the decode head's logits is an instance (layout 'nchw'), the class
# level over the pixels of the batch; as clkd_fpn_lavit-t-r18_synth-ade20k.py (weight 1: not tuned here).
# Teacher first: python tools/train.py configs/lavit/fpn_lavit-s_glyph-ade20k.py
_base_ = '../baselines/fpn_r18_glyph-ade20k.py'
pixels = dict(recorder='logits', layout='nchw')
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student=_base_.model,
    teacher=dict(config='configs/lavit/fpn_lavit-s_glyph-ade20k.py',
                 checkpoint='work_dirs/fpn_lavit-s_glyph-ade20k/iter_1200.pth'),
    recorders=dict(logits=dict(type='ModuleOutputs', source='decode_head.conv_seg')),
    losses=dict(loss_clkd=dict(type='CLKDLoss', mu=0.5, beta=2.0, nu=0.4, loss_weight=1.0, warmup=20 / 240)),
    loss_inputs=dict(loss_clkd=dict(student=pixels, teacher=pixels)))
