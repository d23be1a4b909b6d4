# Detection distillation on a stock mmdet model: RetinaNet LaViT-T (teacher) -> RetinaNet ResNet-18 (student).
# Logit KD on the dense head's class logits (bbox_head.retina_cls, every FPN level, one row per anchor and
# position: layout 'dense') and TRG on the last backbone stage (512 channels on both sides). Teacher first:
#   python tools/train.py configs/lavit/retinanet_lavit-t_fpn_synth-coco.py
_base_ = './retinanet_r18_fpn_synth-coco.py'
cls_logits = dict(recorder='cls', call='all', layout='dense', num_classes=4)
distiller = dict(
    teacher=dict(config='configs/lavit/retinanet_lavit-t_fpn_synth-coco.py',
                 checkpoint='work_dirs/retinanet_lavit-t_fpn_synth-coco/epoch_12.pth'),
    recorders=dict(cls=dict(type='ModuleOutputs', source='bbox_head.retina_cls'),
                   feat=dict(type='ModuleOutputs', source='backbone')),
    losses=dict(loss_kd=dict(type='KDLoss', temperature=2.0, loss_weight=1.0),
                loss_trg=dict(type='TRGLoss', student_dim=512, teacher_dim=512, num_tokens=16)),
    loss_inputs=dict(loss_kd=dict(student=cls_logits, teacher=cls_logits),
                     loss_trg=dict(student=dict(recorder='feat', item=-1), teacher=dict(recorder='feat', item=-1))))
