# ImageNet-1k ResNet-34 -> ResNet-18 with CLKD, over mmpretrain's own ResNet-18 config
# (100 epochs). The teacher is mmpretrain's released ResNet-34 (73.62 top-1), downloaded on first use.
# CLKD in OUR form (../_base_/methods/clkd.py); the paper's literal form:
# clkd-paper_resnet34-resnet18_in1k.py.
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py', '../_base_/methods/clkd.py']
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
RESNET34 = ('https://download.openmmlab.com/mmclassification/v0/resnet/'
            'resnet34_8xb32_in1k_20210831-f257d4e6.pth')
model = dict(
    _delete_=True, type='SingleTeacherDistiller',
    student={{_base_.model}},  # the student: the model of the first _base_
    teacher=dict(config='mmpretrain::resnet/resnet34_8xb32_in1k.py', checkpoint=RESNET34),
    recorders={{_base_.distill_method.recorders}},
    losses={{_base_.distill_method.losses}},
    loss_inputs={{_base_.distill_method.loss_inputs}},
    student_loss_weight={{_base_.distill_method.student_loss_weight}})
custom_hooks = [dict(type='DivergenceGuardHook'), dict(type='RandomStateHook')]
