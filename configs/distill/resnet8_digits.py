# Small offline student: CIFAR resnet8 on scikit-learn's handwritten digits (16 px, 10 classes), 30 epochs on a CPU.
_base_ = ['./_base_/models/cifar-resnet.py', './_base_/datasets/digits_16px.py',
          './_base_/schedules/small_30e.py']
model = dict(backbone=dict(arch='resnet8'), head=dict(num_classes=10, in_channels=64, topk=(1,)))
