# Small offline FitNet-style feature mimicking with a connector: Semantic FPN LaViT-T (teacher) -> Semantic
# FPN ResNetV1c-18 on the generated ADE20K-format scenes. The student's stride-16 backbone map (256 channels)
# regresses the teacher's (320 channels) through a learned 1x1 ChannelAdapter + BN (FitNet's regressor),
# trained with the student and dropped by tools/model_converters/distill_to_student.py.
# Teacher first: python tools/train.py configs/lavit/fpn_lavit-t_synth-ade20k.py
_base_ = '../baselines/fpn_r18_synth-ade20k.py'
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student=_base_.model,
    teacher=dict(config='configs/lavit/fpn_lavit-t_synth-ade20k.py',
                 checkpoint='work_dirs/fpn_lavit-t_synth-ade20k/iter_400.pth'),
    recorders=dict(feat=dict(type='ModuleOutputs', source='backbone')),
    losses=dict(loss_fitnet=dict(type='FeatureMSELoss', loss_weight=1.0)),
    loss_inputs=dict(loss_fitnet=dict(
        student=dict(recorder='feat', item=2, connector=dict(type='ChannelAdapter', in_channels=256,
                                                             out_channels=320, norm_cfg=dict(type='BN'))),
        teacher=dict(recorder='feat', item=2))))
