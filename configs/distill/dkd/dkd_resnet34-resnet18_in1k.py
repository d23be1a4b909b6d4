# ImageNet-1k ResNet-34 -> ResNet-18 with DKD, over mmpretrain's own ResNet-18 config (100 epochs);
# the teacher is mmpretrain's released ResNet-34 (../_base_/imagenet_resnet34-teacher.py).
# mdistiller's ImageNet recipe (configs/imagenet/r34_r18/dkd.yaml): CE 1.0, α 1, β 0.5, T 1, no warm-up
# (its WARMUP 1 is one epoch counted from epoch 1, so the full weight from the start).
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py', '../_base_/methods/dkd.py',
          '../_base_/imagenet_resnet34-teacher.py']
model = dict(_base_.distill_method, student=_base_.model, teacher=_base_.resnet34_teacher,
             losses=dict(loss_dkd=dict(type='DKDLoss', alpha=1.0, beta=0.5, temperature=1.0, warmup=0.0)),
             student_loss_weight=1.0)
