# Small offline student: resnet8 at half width (8/16/32 channels) on scikit-learn's digits (16 px, 20 % for
# training), 30 epochs on a CPU. Half width because full-width resnet8 matches the resnet32 teacher
# here (docs/distill_fewshot_design.md).
_base_ = ['../_base_/models/cifar-resnet.py', '../_base_/datasets/digits_16px.py',
          '../_base_/schedules/small_30e.py']
model = dict(backbone=dict(arch='resnet8x0.5'), head=dict(num_classes=10, in_channels=32, topk=(1,)))
