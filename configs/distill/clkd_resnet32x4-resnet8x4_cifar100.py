# CIFAR-100 resnet32x4 -> resnet8x4 with CLKD. Train the teacher first:
#   python tools/train.py configs/distill/resnet32x4_cifar100.py   (-> work_dirs/resnet32x4_cifar100/epoch_240.pth)
_base_ = ['./resnet8x4_cifar100.py', './_base_/methods/clkd.py']
distiller = dict(
    teacher=dict(config='configs/distill/resnet32x4_cifar100.py',
                 checkpoint='work_dirs/resnet32x4_cifar100/epoch_240.pth'),
)
