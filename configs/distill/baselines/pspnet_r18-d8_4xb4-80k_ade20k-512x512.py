# PSPNet ResNetV1c-18-d8 on ADE20K (150 classes, 512x512), the student of the CWD recipe. mmseg ships the R-18
# PSPNet for Cityscapes, LoveDA, Potsdam, ... but not for ADE20K: this is its R-50 ADE20K config with the
# R-18 changes mmseg makes in those (pspnet_r18-d8_4xb4-80k_loveda-512x512.py).
_base_ = 'mmseg::pspnet/pspnet_r50-d8_4xb4-80k_ade20k-512x512.py'
model = dict(pretrained='open-mmlab://resnet18_v1c', backbone=dict(depth=18),
             decode_head=dict(in_channels=512, channels=128),
             auxiliary_head=dict(in_channels=256, channels=64))
