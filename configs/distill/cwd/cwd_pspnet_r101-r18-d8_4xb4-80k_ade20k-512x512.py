# CWD on segmentation logits: PSPNet R-101-d8 (teacher, mmseg's released ADE20K weights, 43.57 mIoU) ->
# PSPNet R-18-d8 (student) on ADE20K. mmrazor's CWD recipe (its Cityscapes config: the decode head's
# conv_seg logits of both models, tau 1, weight 5); both heads predict 150 classes at stride 8: no connector.
_base_ = '../baselines/pspnet_r18-d8_4xb4-80k_ade20k-512x512.py'
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student=_base_.model,
    teacher=dict(config='mmseg::pspnet/pspnet_r101-d8_4xb4-80k_ade20k-512x512.py',
                 checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/pspnet/'
                            'pspnet_r101-d8_512x512_80k_ade20k/'
                            'pspnet_r101-d8_512x512_80k_ade20k_20200614_031423-b6e782f0.pth'),
    recorders=dict(logits=dict(type='ModuleOutputs', source='decode_head.conv_seg')),
    losses=dict(loss_cwd=dict(type='ChannelWiseDivergence', tau=1.0, loss_weight=5.0)),
    loss_inputs=dict(loss_cwd=dict(student='logits', teacher='logits')))
