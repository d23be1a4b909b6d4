# scikit-learn's handwritten digits: resnet32 -> resnet8x0.5 with TRG (+ KD). Train the teacher first:
#   python tools/train.py configs/distill/baselines/resnet32_digits.py
#   (-> work_dirs/resnet32_digits/epoch_30.pth; or point model.teacher.checkpoint at yours)
# resnet8x0.5's last stage has 32 channels; its map is 4x4 at 16 px: 2x2 patches keep 4 tokens
_base_ = ['../baselines/resnet8x0.5_digits.py', '../_base_/methods/trg.py']
model = dict(_base_.distill_method, student=_base_.model,
             teacher=dict(config='configs/distill/baselines/resnet32_digits.py',
                          checkpoint='work_dirs/resnet32_digits/epoch_30.pth'),
             losses=dict(_base_.distill_method.losses,
                         loss_trg=dict(_base_.distill_method.losses.loss_trg, student_dim=32, patch_size=2)))
