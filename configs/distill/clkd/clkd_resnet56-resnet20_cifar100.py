# CIFAR-100: resnet56 -> resnet20 with CLKD. Train the teacher first:
#   python tools/train.py configs/distill/baselines/resnet56_cifar100.py
#   (-> work_dirs/resnet56_cifar100/epoch_240.pth; or point model.teacher.checkpoint at yours)
# CLKD in OUR form (../_base_/methods/clkd.py: row-sum reduction, L_cc on normalised
# logits, w = 4, λ = 1, warm-up); the re-implementations' form:
# clkd-reimpl_resnet56-resnet20_cifar100.py.
_base_ = ['../baselines/resnet20_cifar100.py', '../_base_/methods/clkd.py']
model = dict(_base_.distill_method, student=_base_.model,
             teacher=dict(config='configs/distill/baselines/resnet56_cifar100.py',
                          checkpoint='work_dirs/resnet56_cifar100/epoch_240.pth'))
