# PKD on FPN features: RetinaNet R-101 (teacher, mmdet's released 2x weights, 38.9 bbox AP) -> RetinaNet
# R-50 (student, 37.4 alone) on COCO, mmrazor's RetinaNet recipe: PKD on the first four neck outputs (P3-P6),
# weight 10 (its loss_pkd_fpn0..3, one loss per level, are this one loss summed over the levels), lr 0.01.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_2x_coco.py'
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
fpn = dict(recorder='fpn', levels=(0, 1, 2, 3))
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student=_base_.model,
    teacher=dict(config='mmdet::retinanet/retinanet_r101_fpn_2x_coco.py',
                 checkpoint='https://download.openmmlab.com/mmdetection/v2.0/retinanet/'
                            'retinanet_r101_fpn_2x_coco/'
                            'retinanet_r101_fpn_2x_coco_20200131-5560aee8.pth'),
    recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    losses=dict(loss_pkd=dict(type='PKDLoss', loss_weight=10.0)),
    loss_inputs=dict(loss_pkd=dict(student=fpn, teacher=fpn)))
optim_wrapper = dict(optimizer=dict(lr=0.01))
