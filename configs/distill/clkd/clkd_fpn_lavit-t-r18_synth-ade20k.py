# CLKD on segmentation logits (the dense form is ours): Semantic FPN LaViT-T (teacher) -> Semantic FPN
# ResNetV1c-18 on the generated ADE20K-format scenes. Each pixel of the decode head's logits is an instance
# (layout 'nchw': (B, C, H, W) -> (B·H·W, C) rows), so L_ins normalises each pixel's class scores and the
# class level L_cla each class's scores over the pixels of the whole batch; L_cc is the class covariance over
# those pixels. The terms of our classification form (mu 0.5, beta 2, nu 0.4, row sums, L_cc on normalised
# logits, the warm-up), weight 1: not tuned on dense outputs. Teacher first:
#   python tools/train.py configs/lavit/fpn_lavit-t_synth-ade20k.py
_base_ = '../baselines/fpn_r18_synth-ade20k.py'
pixels = dict(recorder='logits', layout='nchw')
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student=_base_.model,
    teacher=dict(config='configs/lavit/fpn_lavit-t_synth-ade20k.py',
                 checkpoint='work_dirs/fpn_lavit-t_synth-ade20k/iter_400.pth'),
    recorders=dict(logits=dict(type='ModuleOutputs', source='decode_head.conv_seg')),
    losses=dict(loss_clkd=dict(type='CLKDLoss', mu=0.5, beta=2.0, nu=0.4, loss_weight=1.0, warmup=20 / 240)),
    loss_inputs=dict(loss_clkd=dict(student=pixels, teacher=pixels)))
