# 100 generated classes: resnet32 -> resnet8 with DKD. Train the teacher first:
#   python tools/train.py configs/distill/baselines/resnet32_synth-cls100.py
#   (-> work_dirs/resnet32_synth-cls100/epoch_30.pth; or point model.teacher.checkpoint at yours)
# DKD with β 2 as for the papers' resnet56 pairs, ramped up over the first 10 % of training
_base_ = ['../baselines/resnet8_synth-cls100.py', '../_base_/methods/dkd.py']
model = dict(
    _delete_=True, type='SingleTeacherDistiller',
    student={{_base_.model}},  # the student: the model of the first _base_
    teacher=dict(config='configs/distill/baselines/resnet32_synth-cls100.py',
                 checkpoint='work_dirs/resnet32_synth-cls100/epoch_30.pth'),
    recorders={{_base_.distill_method.recorders}},
    losses=dict(loss_dkd=dict(type='DKDLoss', alpha=1.0, beta=2.0, temperature=4.0, warmup=0.1)),
    loss_inputs={{_base_.distill_method.loss_inputs}},
    student_loss_weight={{_base_.distill_method.student_loss_weight}})
