# ImageNet-1k ResNet-34 -> ResNet-18 with DKD, over mmpretrain's own ResNet-18 config (100 epochs);
# the teacher is mmpretrain's released ResNet-34 (../_base_/imagenet_resnet34-teacher.py).
# DKD's ImageNet setting: β 0.5, T 1 (the paper); α 0.5 and the 1-epoch ramp are mdistiller's.
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py', '../_base_/methods/dkd.py',
          '../_base_/imagenet_resnet34-teacher.py']
model = dict(_base_.distill_method, student=_base_.model, teacher=_base_.resnet34_teacher,
             losses=dict(loss_dkd=dict(type='DKDLoss', alpha=0.5, beta=0.5, temperature=1.0, warmup=1 / 100)))
