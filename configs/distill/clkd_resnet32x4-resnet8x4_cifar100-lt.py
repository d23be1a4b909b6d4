# CIFAR-100-LT (imbalance 100) resnet32x4 -> resnet8x4 with CLKD. The teacher is trained on the same
# long-tailed data first:  python tools/train.py configs/distill/resnet32x4_cifar100-lt.py
_base_ = ['./resnet8x4_cifar100-lt.py', './_base_/methods/clkd.py']
distiller = dict(
    teacher=dict(config='configs/distill/resnet32x4_cifar100-lt.py',
                 checkpoint='work_dirs/resnet32x4_cifar100-lt/epoch_240.pth'),
)
