# ImageNet-1k ResNet-34 -> ResNet-18 with TRG (+ KD), over mmpretrain's own ResNet-18 config
# (100 epochs). The teacher is mmpretrain's released ResNet-34 (73.62 top-1), downloaded on first use.
# Tokens: every position of ResNet's 7x7 last map at 224 px is a token (49 per image; 16 sampled per image
# for the graph). 7 is prime, so the only other patch grid is one 7x7 patch: one token per image, with which
# L_inner (the self-similarity of an image's tokens) is identically 0 — not TRG. KD as the ImageNet recipe.
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py', '../_base_/methods/trg.py']
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
RESNET34 = ('https://download.openmmlab.com/mmclassification/v0/resnet/'
            'resnet34_8xb32_in1k_20210831-f257d4e6.pth')
model = dict(
    _delete_=True, type='SingleTeacherDistiller',
    student={{_base_.model}},  # the student: the model of the first _base_
    teacher=dict(config='mmpretrain::resnet/resnet34_8xb32_in1k.py', checkpoint=RESNET34),
    recorders={{_base_.distill_method.recorders}},
    losses=dict(
        loss_kd=dict(type='KDLoss', temperature=1.0, loss_weight=0.5),
        loss_trg=dict(type='TRGLoss', student_dim=512, teacher_dim=512, num_tokens=16, k=8, alpha=4.0,
                      beta=4.0, gamma=4.0, tau_start=0.5, tau_end=0.07, local_norm='sum',
                      patch_size=1)),
    loss_inputs={{_base_.distill_method.loss_inputs}},
    student_loss_weight=0.5)
custom_hooks = [dict(type='DivergenceGuardHook'), dict(type='RandomStateHook')]
