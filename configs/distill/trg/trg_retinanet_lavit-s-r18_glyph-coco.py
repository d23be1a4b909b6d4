# KD + TRG on the glyph scenes (the combination the TRG paper uses): RetinaNet LaViT-S (teacher) -> RetinaNet
# ResNet-18. Logit KD on the dense head's class logits and TRG on the last backbone stage (512 channels on
# both sides; 8x6 = 48 tokens per image at 256x192, 16 sampled per image for the graph), as
# trg_retinanet_lavit-t-r18_synth-coco.py. Teacher first:
#   python tools/train.py configs/lavit/retinanet_lavit-s_fpn_glyph-coco.py
_base_ = '../baselines/retinanet_r18_fpn_glyph-coco.py'
cls_logits = dict(recorder='cls', call='all', layout='dense', num_classes=36)
last_stage = dict(recorder='feat', item=-1)
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student=_base_.model,
    teacher=dict(config='configs/lavit/retinanet_lavit-s_fpn_glyph-coco.py',
                 checkpoint='work_dirs/retinanet_lavit-s_fpn_glyph-coco/epoch_36.pth'),
    recorders=dict(cls=dict(type='ModuleOutputs', source='bbox_head.retina_cls'),
                   feat=dict(type='ModuleOutputs', source='backbone')),
    losses=dict(loss_kd=dict(type='KDLoss', temperature=2.0, loss_weight=1.0),
                loss_trg=dict(type='TRGLoss', student_dim=512, teacher_dim=512, num_tokens=16,
                              graph_reduction='mean')),
    loss_inputs=dict(loss_kd=dict(student=cls_logits, teacher=cls_logits),
                     loss_trg=dict(student=last_stage, teacher=last_stage)))
