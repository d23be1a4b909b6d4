# TRG on FPN tokens (ours): RetinaNet LaViT-T (teacher) -> RetinaNet ResNet-18 on the generated COCO-format
# shapes. Each of the five neck outputs (256 channels on both sides) is a token grid, each position a token
# (P3: 32x24 = 768 per image at 256x192 ... P7: 2x2); one TRG per level (MultiLevelLoss: its own graph of 16
# sampled tokens per image, its own L_inner, one projector shared by the levels), summed with weight 1 each;
# plus logit KD on the dense head as in trg_retinanet_lavit-t-r18_synth-coco.py. L_inner is N x N per image:
# at full size (P3 100x168 at 800x1333) set TRGLoss(patch_size=..., patch_mode='mean') or drop the low levels.
# Teacher first: python tools/train.py configs/lavit/retinanet_lavit-t_fpn_synth-coco.py
_base_ = '../baselines/retinanet_r18_fpn_synth-coco.py'
cls_logits = dict(recorder='cls', call='all', layout='dense', num_classes=4)
fpn = dict(recorder='fpn', levels=(0, 1, 2, 3, 4))
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student=_base_.model,
    teacher=dict(config='configs/lavit/retinanet_lavit-t_fpn_synth-coco.py',
                 checkpoint='work_dirs/retinanet_lavit-t_fpn_synth-coco/epoch_12.pth'),
    recorders=dict(cls=dict(type='ModuleOutputs', source='bbox_head.retina_cls'),
                   fpn=dict(type='ModuleOutputs', source='neck')),
    losses=dict(loss_kd=dict(type='KDLoss', temperature=2.0, loss_weight=1.0),
                loss_trg=dict(type='MultiLevelLoss', level_weights=(1.0, 1.0, 1.0, 1.0, 1.0),
                              loss=dict(type='TRGLoss', student_dim=256, teacher_dim=256, num_tokens=16,
                                        graph_reduction='mean'))),
    loss_inputs=dict(loss_kd=dict(student=cls_logits, teacher=cls_logits),
                     loss_trg=dict(student=fpn, teacher=fpn)))
