# ImageNet-1k ResNet-34 -> ResNet-18 with TRG (+ KD), over mmpretrain's own ResNet-18 config (100 epochs);
# the teacher is mmpretrain's released ResNet-34 (../_base_/imagenet_resnet34-teacher.py).
# Tokens: every position of ResNet's 7x7 last map at 224 px is a token (49 per image; 16 sampled per image
# for the graph). 7 is prime, so the only other patch grid is one 7x7 patch: one token per image, with which
# L_inner (the self-similarity of an image's tokens) is identically 0 — not TRG. KD as the ImageNet recipe.
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py', '../_base_/methods/trg.py',
          '../_base_/imagenet_resnet34-teacher.py']
model = dict(_base_.distill_method, student=_base_.model, teacher=_base_.resnet34_teacher,
             losses=dict(loss_kd=dict(type='KDLoss', temperature=1.0, loss_weight=0.5),
                         loss_trg=dict(_base_.distill_method.losses.loss_trg, student_dim=512,
                                       teacher_dim=512, patch_size=1)),
             student_loss_weight=0.5)
