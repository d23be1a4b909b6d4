# Small offline distillation: resnet32 -> resnet8x0.5 on scikit-learn's handwritten digits with DKD. Teacher first:
#   python tools/train.py configs/distill/resnet32_digits.py   (-> work_dirs/resnet32_digits/epoch_30.pth)
_base_ = ['./resnet8x0.5_digits.py', './_base_/methods/dkd.py']
distiller = dict(
    teacher=dict(config='configs/distill/resnet32_digits.py',
                 checkpoint='work_dirs/resnet32_digits/epoch_30.pth'),
    losses=dict(loss_dkd=dict(beta=2.0, warmup=0.1)),  # β 2 as for the papers' resnet56 pairs
)
