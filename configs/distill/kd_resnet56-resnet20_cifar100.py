# CIFAR-100 resnet56 -> resnet20 with plain KD. Train the teacher first:
#   python tools/train.py configs/distill/resnet56_cifar100.py   (-> work_dirs/resnet56_cifar100/epoch_240.pth)
_base_ = ['./resnet20_cifar100.py', './_base_/methods/kd.py']
distiller = dict(
    teacher=dict(config='configs/distill/resnet56_cifar100.py',
                 checkpoint='work_dirs/resnet56_cifar100/epoch_240.pth'),
)
