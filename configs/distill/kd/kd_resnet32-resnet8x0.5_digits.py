# scikit-learn's handwritten digits: resnet32 -> resnet8x0.5 with plain KD. Train the teacher first:
#   python tools/train.py configs/distill/baselines/resnet32_digits.py
#   (-> work_dirs/resnet32_digits/epoch_30.pth; or point model.teacher.checkpoint at yours)
_base_ = ['../baselines/resnet8x0.5_digits.py', '../_base_/methods/kd.py']
model = dict(
    _delete_=True, type='SingleTeacherDistiller',
    student={{_base_.model}},  # the student: the model of the first _base_
    teacher=dict(config='configs/distill/baselines/resnet32_digits.py',
                 checkpoint='work_dirs/resnet32_digits/epoch_30.pth'),
    recorders={{_base_.distill_method.recorders}},
    losses={{_base_.distill_method.losses}},
    loss_inputs={{_base_.distill_method.loss_inputs}},
    student_loss_weight={{_base_.distill_method.student_loss_weight}})
