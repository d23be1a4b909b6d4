# Small offline teacher: CIFAR resnet32 on the generated class folders (32 px, 10 classes), 30 epochs on a CPU.
_base_ = ['./_base_/models/cifar-resnet.py', './_base_/datasets/synth-cls_32px.py',
          './_base_/schedules/small_30e.py']
model = dict(backbone=dict(arch='resnet32'), head=dict(num_classes=10, in_channels=64, topk=(1,)))
