# CIFAR-100: resnet32x4 -> resnet8x4 with TRG (+ KD). Train the teacher first:
#   python tools/train.py configs/distill/baselines/resnet32x4_cifar100.py
#   (-> work_dirs/resnet32x4_cifar100/epoch_240.pth; or point model.teacher.checkpoint at yours)
# the 8x8 last map at 32 px in 4x4 averaged patches: 4 tokens per image
_base_ = ['../baselines/resnet8x4_cifar100.py', '../_base_/methods/trg.py']
model = dict(_base_.distill_method, student=_base_.model,
             teacher=dict(config='configs/distill/baselines/resnet32x4_cifar100.py',
                          checkpoint='work_dirs/resnet32x4_cifar100/epoch_240.pth'),
             losses=dict(_base_.distill_method.losses,
                         loss_trg=dict(_base_.distill_method.losses.loss_trg, student_dim=256,
                                       teacher_dim=256)))
