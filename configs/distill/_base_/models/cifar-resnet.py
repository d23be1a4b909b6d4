# A CIFAR ResNet classifier (mmlavit's CifarResNet: the resnet8x4/32x4/20/56/110 family of the KD papers).
# Leaves set backbone.arch and head.in_channels (64 for resnetN, 256 for the x4 variants).
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='CifarResNet', arch='resnet20'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=100, in_channels=64,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)))
