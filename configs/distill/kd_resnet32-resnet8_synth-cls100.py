# Small offline distillation: resnet32 -> resnet8 on 100 generated classes with plain KD. Teacher first:
#   python tools/train.py configs/distill/resnet32_synth-cls100.py   (-> work_dirs/resnet32_synth-cls100/epoch_30.pth)
_base_ = ['./resnet8_synth-cls100.py', './_base_/methods/kd.py']
distiller = dict(
    teacher=dict(config='configs/distill/resnet32_synth-cls100.py',
                 checkpoint='work_dirs/resnet32_synth-cls100/epoch_30.pth'),
)
