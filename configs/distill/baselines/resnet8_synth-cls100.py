# Small offline student: CIFAR resnet8 on 100 generated classes (32 px), 30 epochs on a CPU
# (accuracy alone: docs/distill_fewshot_design.md).
_base_ = ['../_base_/models/cifar-resnet.py', '../_base_/datasets/synth-cls100_32px.py',
          '../_base_/schedules/small_30e.py']
model = dict(backbone=dict(arch='resnet8'), head=dict(num_classes=100, in_channels=64, topk=(1,)))
