# CIFAR-100: resnet56 -> resnet20 with TRG (+ KD). Train the teacher first:
#   python tools/train.py configs/distill/baselines/resnet56_cifar100.py
#   (-> work_dirs/resnet56_cifar100/epoch_240.pth; or point model.teacher.checkpoint at yours)
# the 8x8 last map at 32 px in 4x4 averaged patches: 4 tokens per image
_base_ = ['../baselines/resnet20_cifar100.py', '../_base_/methods/trg.py']
model = dict(_base_.distill_method, student=_base_.model,
             teacher=dict(config='configs/distill/baselines/resnet56_cifar100.py',
                          checkpoint='work_dirs/resnet56_cifar100/epoch_240.pth'))
