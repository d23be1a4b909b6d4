# CIFAR-100: resnet32x4 -> resnet8x4 with CLKD. Train the teacher first:
#   python tools/train.py configs/distill/baselines/resnet32x4_cifar100.py
#   (-> work_dirs/resnet32x4_cifar100/epoch_240.pth; or point model.teacher.checkpoint at yours)
# CLKD in OUR form (../_base_/methods/clkd.py: row-sum reduction, L_cc on normalised
# logits, w = 4, λ = 1, warm-up); the re-implementations' form:
# clkd-reimpl_resnet32x4-resnet8x4_cifar100.py.
_base_ = ['../baselines/resnet8x4_cifar100.py', '../_base_/methods/clkd.py']
model = dict(_base_.distill_method, student=_base_.model,
             teacher=dict(config='configs/distill/baselines/resnet32x4_cifar100.py',
                          checkpoint='work_dirs/resnet32x4_cifar100/epoch_240.pth'))
