# scikit-learn's handwritten digits: resnet32 -> resnet8x0.5 with CLKD. Train the teacher first:
#   python tools/train.py configs/distill/baselines/resnet32_digits.py
#   (-> work_dirs/resnet32_digits/epoch_30.pth; or point model.teacher.checkpoint at yours)
# CLKD in OUR form (../_base_/methods/clkd.py: row-sum reduction, L_cc on normalised
# logits, w = 4, λ = 1, warm-up); the re-implementations' form:
# clkd-reimpl_resnet32-resnet8x0.5_digits.py.
_base_ = ['../baselines/resnet8x0.5_digits.py', '../_base_/methods/clkd.py']
model = dict(_base_.distill_method, student=_base_.model,
             teacher=dict(config='configs/distill/baselines/resnet32_digits.py',
                          checkpoint='work_dirs/resnet32_digits/epoch_30.pth'))
