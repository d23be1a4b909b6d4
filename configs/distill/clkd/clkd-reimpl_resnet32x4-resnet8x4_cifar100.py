# CIFAR-100: resnet32x4 -> resnet8x4 with CLKD. Train the teacher first:
#   python tools/train.py configs/distill/baselines/resnet32x4_cifar100.py
#   (-> work_dirs/resnet32x4_cifar100/epoch_240.pth; or point model.teacher.checkpoint at yours)
# CLKD in the form of its public re-implementations (../_base_/methods/clkd_reimpl.py: element-wise
# MSE terms, L_cc on raw logits, λ = 0.1, μ = 0.5, β = 2, ν = 0.4, no warm-up);
# ours: clkd_resnet32x4-resnet8x4_cifar100.py.
_base_ = ['../baselines/resnet8x4_cifar100.py', '../_base_/methods/clkd_reimpl.py']
model = dict(_base_.distill_method, student=_base_.model,
             teacher=dict(config='configs/distill/baselines/resnet32x4_cifar100.py',
                          checkpoint='work_dirs/resnet32x4_cifar100/epoch_240.pth'))
