# GP-MAML (MAML + adaptive pseudo-labels by label propagation) with ResNet-12 (64-160-320-640; BOIL reports
# ResNet-12 runs), miniImageNet 5-way 5-shot.
_base_ = ['./gp-maml_conv4_mini-imagenet-5way-5shot.py']
model = dict(backbone=dict(_delete_=True, type='ResNet12', channels=(64, 160, 320, 640)),
             inner_lr=0.1)  # ours: a smaller inner step for the deeper body
