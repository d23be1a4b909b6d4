# The ImageNet-1k leaves (student: mmpretrain's own ResNet-18 config, 100 epochs): the teacher is
# mmpretrain's released ResNet-34 (73.62 top-1), downloaded on first use; mmlavit imported for the stock
# student config; our divergence guard and random-state hooks.
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
custom_hooks = [dict(type='DivergenceGuardHook'), dict(type='RandomStateHook')]
resnet34_teacher = dict(config='mmpretrain::resnet/resnet34_8xb32_in1k.py',
                        checkpoint='https://download.openmmlab.com/mmclassification/v0/resnet/'
                                   'resnet34_8xb32_in1k_20210831-f257d4e6.pth')
