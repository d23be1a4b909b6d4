# CIFAR-100: resnet56 -> resnet20 with DKD. Train the teacher first:
#   python tools/train.py configs/distill/baselines/resnet56_cifar100.py
#   (-> work_dirs/resnet56_cifar100/epoch_240.pth; or point model.teacher.checkpoint at yours)
# DKD with the paper's β 2 for this pair
_base_ = ['../baselines/resnet20_cifar100.py', '../_base_/methods/dkd.py']
model = dict(_base_.distill_method, student=_base_.model,
             teacher=dict(config='configs/distill/baselines/resnet56_cifar100.py',
                          checkpoint='work_dirs/resnet56_cifar100/epoch_240.pth'),
             losses=dict(loss_dkd=dict(_base_.distill_method.losses.loss_dkd, beta=2.0)))
