# 100 generated classes: resnet32 -> resnet8 with DKD. Train the teacher first:
#   python tools/train.py configs/distill/baselines/resnet32_synth-cls100.py
#   (-> work_dirs/resnet32_synth-cls100/epoch_30.pth; or point model.teacher.checkpoint at yours)
# DKD with β 2 as for the papers' resnet56 pairs, ramped up over the first 10 % of training
_base_ = ['../baselines/resnet8_synth-cls100.py', '../_base_/methods/dkd.py']
model = dict(_base_.distill_method, student=_base_.model,
             teacher=dict(config='configs/distill/baselines/resnet32_synth-cls100.py',
                          checkpoint='work_dirs/resnet32_synth-cls100/epoch_30.pth'),
             losses=dict(loss_dkd=dict(_base_.distill_method.losses.loss_dkd, beta=2.0, warmup=0.1)))
