# KD + TRG on the glyph scenes (the combination the TRG paper uses): Semantic FPN LaViT-S (teacher) ->
# Semantic FPN ResNetV1c-18. Per-pixel logit KD on the decode head's classifier and TRG on the last backbone
# stage (4x4 = 16 tokens per image at the 128x128 crop, all of them graph nodes), as
# trg_fpn_lavit-t-r18_synth-ade20k.py. Teacher first:
#   python tools/train.py configs/lavit/fpn_lavit-s_glyph-ade20k.py
_base_ = '../baselines/fpn_r18_glyph-ade20k.py'
pix_logits = dict(recorder='logits', layout='nchw')
last_stage = dict(recorder='feat', item=-1)
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student=_base_.model,
    teacher=dict(config='configs/lavit/fpn_lavit-s_glyph-ade20k.py',
                 checkpoint='work_dirs/fpn_lavit-s_glyph-ade20k/iter_1200.pth'),
    recorders=dict(logits=dict(type='ModuleOutputs', source='decode_head.conv_seg'),
                   feat=dict(type='ModuleOutputs', source='backbone')),
    losses=dict(loss_kd=dict(type='KDLoss', temperature=1.0, loss_weight=1.0),
                loss_trg=dict(type='TRGLoss', student_dim=512, teacher_dim=512, num_tokens=16,
                              graph_reduction='mean')),
    loss_inputs=dict(loss_kd=dict(student=pix_logits, teacher=pix_logits),
                     loss_trg=dict(student=last_stage, teacher=last_stage)))
