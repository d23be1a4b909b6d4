# Small offline teacher: CIFAR resnet32 on scikit-learn's digits (16 px, 20 % for training), 30 epochs on a
# CPU.
_base_ = ['../_base_/models/cifar-resnet.py', '../_base_/datasets/digits_16px.py',
          '../_base_/schedules/small_30e.py']
model = dict(backbone=dict(arch='resnet32'), head=dict(num_classes=10, in_channels=64, topk=(1,)))
