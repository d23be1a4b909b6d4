# ImageNet-1k ResNet-34 -> ResNet-18 with plain KD, over mmpretrain's own ResNet-18 config (100 epochs);
# the teacher is mmpretrain's released ResNet-34 (../_base_/imagenet_resnet34-teacher.py).
# The ImageNet recipe of the KD papers: T = 1, CE 0.5 / KD 0.5.
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py', '../_base_/methods/kd.py',
          '../_base_/imagenet_resnet34-teacher.py']
model = dict(_base_.distill_method, student=_base_.model, teacher=_base_.resnet34_teacher,
             losses=dict(loss_kd=dict(type='KDLoss', temperature=1.0, loss_weight=0.5)),
             student_loss_weight=0.5)
