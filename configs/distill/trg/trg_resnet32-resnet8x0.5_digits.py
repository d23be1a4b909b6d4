# scikit-learn's handwritten digits: resnet32 -> resnet8x0.5 with TRG (+ KD). Train the teacher first:
#   python tools/train.py configs/distill/baselines/resnet32_digits.py
#   (-> work_dirs/resnet32_digits/epoch_30.pth; or point model.teacher.checkpoint at yours)
# resnet8x0.5's last stage has 32 channels; its map is 4x4 at 16 px: 2x2 patches keep 4 tokens
_base_ = ['../baselines/resnet8x0.5_digits.py', '../_base_/methods/trg.py']
model = dict(
    _delete_=True, type='SingleTeacherDistiller',
    student={{_base_.model}},  # the student: the model of the first _base_
    teacher=dict(config='configs/distill/baselines/resnet32_digits.py',
                 checkpoint='work_dirs/resnet32_digits/epoch_30.pth'),
    recorders={{_base_.distill_method.recorders}},
    losses=dict(
        loss_kd=dict(type='KDLoss', temperature=4.0, loss_weight=0.9),
        loss_trg=dict(type='TRGLoss', student_dim=32, teacher_dim=64, num_tokens=16, k=8, alpha=4.0,
                      beta=4.0, gamma=4.0, tau_start=0.5, tau_end=0.07, local_norm='sum',
                      patch_size=2, patch_mode='mean')),
    loss_inputs={{_base_.distill_method.loss_inputs}},
    student_loss_weight={{_base_.distill_method.student_loss_weight}})
