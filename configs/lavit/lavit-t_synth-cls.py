# Small offline variant: LaViT-T classification on the generated class folders
# (python tools/dataset_converters/generate_data.py imagenet data/synthetic_imagenet), CPU in minutes.
# 64 px inputs, so the spatial-reduction ratios are lowered to keep several keys per stage.
_base_ = 'mmpretrain::_base_/default_runtime.py'
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)

data_root = 'data/synthetic_imagenet'
num_classes = 10
model = dict(
    type='ImageClassifier',
    # lower spatial reduction and 4×4 LA keys for the 64 px inputs
    backbone=dict(type='LaViT', arch='tiny-lowsr', la_key_grid=4,
                  out_indices=(3,), drop_path_rate=0.0, dp_loss_weight=0.1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=num_classes, in_channels=512,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1,)))
data_preprocessor = dict(num_classes=num_classes, mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                         to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
# workers re-created (and re-seeded) each epoch: with persistent ones their random state could not be saved,
# and --resume would not equal the uninterrupted run (see docs/reliability.md)
train_dataloader = dict(
    batch_size=32, num_workers=2, persistent_workers=False,
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='train', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=50, num_workers=2, persistent_workers=True,
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='val', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1,))
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05), clip_grad=dict(max_norm=5.0))
max_epochs = 15
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1, end=max_epochs)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=5)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=5),
                     checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=1, save_last=True))
# the divergence guard stops at the first non-finite loss; RandomStateHook makes --resume exact
custom_hooks = [dict(type='AuxiliaryLossHook'), dict(type='DivergenceGuardHook'),
                dict(type='RandomStateHook')]
