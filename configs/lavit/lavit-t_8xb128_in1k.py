# LaViT-T on ImageNet-1k, 300 epochs, 8 GPUs x 128 images. Recipe (the paper gives none; ours:
# the PVTv2/DeiT recipe, docs/references.md): AdamW lr 5e-4 x batch/512, wd 0.05, cosine,
# 5 warm-up epochs, RandAugment, Mixup 0.8, CutMix 1.0, label smoothing 0.1, random erasing 0.25,
# drop path 0.1.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='LaViT', arch='tiny', out_indices=(3,), drop_path_rate=0.1, dp_loss_weight=0.1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=512,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
              init_cfg=None),
    init_cfg=[dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
              dict(type='Constant', layer='LayerNorm', val=1., bias=0.)],
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5)
]
optim_wrapper = dict(clip_grad=dict(max_norm=5.0),
                     paramwise_cfg=dict(custom_keys={'.theta': dict(decay_mult=0.0),
                                                     '.psi': dict(decay_mult=0.0)}))
# the divergence guard stops at the first non-finite loss; RandomStateHook makes --resume exact
custom_hooks = [dict(type='AuxiliaryLossHook'), dict(type='DivergenceGuardHook'),
                dict(type='RandomStateHook')]
offline_config = 'configs/lavit/lavit-t_synth-cls.py'
