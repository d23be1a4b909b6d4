# CWD on FPN features: RetinaNet R-101 (teacher, mmdet's released 2x weights, 38.9 bbox AP) -> RetinaNet R-50
# on COCO. mmrazor's recipe (cwd_fpn_retina_r101_retina_r50_1x_coco: the five neck outputs, tau 1, weight 10
# each) as one loss over the five levels; both necks give 256 channels at the same strides, so no connector.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
fpn = dict(recorder='fpn', levels=(0, 1, 2, 3, 4))
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student=_base_.model,
    teacher=dict(config='mmdet::retinanet/retinanet_r101_fpn_2x_coco.py',
                 checkpoint='https://download.openmmlab.com/mmdetection/v2.0/retinanet/'
                            'retinanet_r101_fpn_2x_coco/'
                            'retinanet_r101_fpn_2x_coco_20200131-5560aee8.pth'),
    recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    losses=dict(loss_cwd=dict(type='ChannelWiseDivergence', tau=1.0, loss_weight=10.0)),
    loss_inputs=dict(loss_cwd=dict(student=fpn, teacher=fpn)))
