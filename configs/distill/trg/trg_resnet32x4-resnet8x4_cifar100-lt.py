# CIFAR-100-LT (imbalance 100): resnet32x4 -> resnet8x4 with TRG (+ KD). Train the teacher first:
#   python tools/train.py configs/distill/baselines/resnet32x4_cifar100-lt.py
#   (-> work_dirs/resnet32x4_cifar100-lt/epoch_240.pth; or point model.teacher.checkpoint at yours)
# the 8x8 last map at 32 px in 4x4 averaged patches: 4 tokens per image
_base_ = ['../baselines/resnet8x4_cifar100-lt.py', '../_base_/methods/trg.py']
model = dict(
    _delete_=True, type='SingleTeacherDistiller',
    student={{_base_.model}},  # the student: the model of the first _base_
    teacher=dict(config='configs/distill/baselines/resnet32x4_cifar100-lt.py',
                 checkpoint='work_dirs/resnet32x4_cifar100-lt/epoch_240.pth'),
    recorders={{_base_.distill_method.recorders}},
    losses=dict(
        loss_kd=dict(type='KDLoss', temperature=4.0, loss_weight=0.9),
        loss_trg=dict(type='TRGLoss', student_dim=256, teacher_dim=256, num_tokens=16, k=8, alpha=4.0,
                      beta=4.0, gamma=4.0, tau_start=0.5, tau_end=0.07, local_norm='sum',
                      patch_size=4, patch_mode='mean')),
    loss_inputs={{_base_.distill_method.loss_inputs}},
    student_loss_weight={{_base_.distill_method.student_loss_weight}})
