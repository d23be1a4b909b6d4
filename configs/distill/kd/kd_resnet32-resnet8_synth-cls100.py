# 100 generated classes: resnet32 -> resnet8 with plain KD. Train the teacher first:
#   python tools/train.py configs/distill/baselines/resnet32_synth-cls100.py
#   (-> work_dirs/resnet32_synth-cls100/epoch_30.pth; or point model.teacher.checkpoint at yours)
_base_ = ['../baselines/resnet8_synth-cls100.py', '../_base_/methods/kd.py']
model = dict(_base_.distill_method, student=_base_.model,
             teacher=dict(config='configs/distill/baselines/resnet32_synth-cls100.py',
                          checkpoint='work_dirs/resnet32_synth-cls100/epoch_30.pth'))
