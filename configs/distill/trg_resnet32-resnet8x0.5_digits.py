# Small offline distillation: resnet32 -> resnet8x0.5 on scikit-learn's digits with TRG (+ KD). Teacher first:
#   python tools/train.py configs/distill/resnet32_digits.py   (-> work_dirs/resnet32_digits/epoch_30.pth)
_base_ = ['./resnet8x0.5_digits.py', './_base_/methods/trg.py']
distiller = dict(
    teacher=dict(config='configs/distill/resnet32_digits.py',
                 checkpoint='work_dirs/resnet32_digits/epoch_30.pth'),
    # resnet8x0.5's last stage has 32 channels; its map is 4x4 at 16 px: 2x2 patches keep 4 tokens per image
    losses=dict(loss_trg=dict(student_dim=32, patch_size=2)),
)
