# Small offline distillation: resnet32 -> resnet8 on 100 generated classes with DKD. Teacher first:
#   python tools/train.py configs/distill/resnet32_synth-cls100.py   (-> work_dirs/resnet32_synth-cls100/epoch_30.pth)
_base_ = ['./resnet8_synth-cls100.py', './_base_/methods/dkd.py']
distiller = dict(
    teacher=dict(config='configs/distill/resnet32_synth-cls100.py',
                 checkpoint='work_dirs/resnet32_synth-cls100/epoch_30.pth'),
    losses=dict(loss_dkd=dict(beta=2.0, warmup=0.1)),  # β 2 as for the papers' resnet56 pairs
)
