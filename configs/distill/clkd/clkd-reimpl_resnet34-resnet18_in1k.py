# ImageNet-1k ResNet-34 -> ResNet-18 with CLKD, over mmpretrain's own ResNet-18 config (100 epochs);
# the teacher is mmpretrain's released ResNet-34 (../_base_/imagenet_resnet34-teacher.py).
# CLKD in the form of its public re-implementations (../_base_/methods/clkd_reimpl.py);
# ours is clkd_resnet34-resnet18_in1k.py.
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py', '../_base_/methods/clkd_reimpl.py',
          '../_base_/imagenet_resnet34-teacher.py']
model = dict(_base_.distill_method, student=_base_.model, teacher=_base_.resnet34_teacher)
