# Detection distillation on a stock mmdet model: RetinaNet LaViT-T (teacher) -> RetinaNet ResNet-18 (student).
# Logit KD on the dense head's class logits (bbox_head.retina_cls, every FPN level, one row per anchor and
# position: layout 'dense') and TRG on the last backbone stage (512 channels on both sides). Tokens: each
# position of the stride-32 map is a token — 8x6 = 48 per image at the 256x192 training scale, 16 of them
# sampled per image for the graph. Teacher first:
#   python tools/train.py configs/lavit/retinanet_lavit-t_fpn_synth-coco.py
_base_ = '../baselines/retinanet_r18_fpn_synth-coco.py'
cls_logits = dict(recorder='cls', call='all', layout='dense', num_classes=4)
last_stage = dict(recorder='feat', item=-1)
model = dict(_delete_=True, type='SingleTeacherDistiller', student=_base_.model,
             teacher=dict(config='configs/lavit/retinanet_lavit-t_fpn_synth-coco.py',
                          checkpoint='work_dirs/retinanet_lavit-t_fpn_synth-coco/epoch_12.pth'),
             recorders=dict(cls=dict(type='ModuleOutputs', source='bbox_head.retina_cls'),
                            feat=dict(type='ModuleOutputs', source='backbone')),
             losses=dict(loss_kd=dict(type='KDLoss', temperature=2.0, loss_weight=1.0),
                         loss_trg=dict(type='TRGLoss', student_dim=512, teacher_dim=512, num_tokens=16,
                                       graph_reduction='mean')),
             loss_inputs=dict(loss_kd=dict(student=cls_logits, teacher=cls_logits),
                              loss_trg=dict(student=last_stage, teacher=last_stage)))
