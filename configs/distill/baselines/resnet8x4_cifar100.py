# CIFAR-100 resnet8x4 (student of the KD papers' pairs), trained alone with the papers' 240-epoch recipe.
_base_ = ['../_base_/models/cifar-resnet.py', '../_base_/datasets/cifar100_bs64.py',
          '../_base_/schedules/cifar100_240e.py']
model = dict(backbone=dict(arch='resnet8x4'), head=dict(num_classes=100, in_channels=256))
