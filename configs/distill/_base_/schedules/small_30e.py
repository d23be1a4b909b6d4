# Short CPU schedule for the small variants: SGD momentum 0.9, lr 0.05, wd 5e-4, 1-epoch warm-up, cosine,
# 30 epochs, evaluated at the end.
# the schedule carries the runtime, so that it can set default_hooks
_base_ = 'mmpretrain::_base_/default_runtime.py'
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
max_epochs = 30
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0., by_epoch=True, begin=1, end=max_epochs),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(type='LoggerHook', interval=10),
                     checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1))
# Stop at the first non-finite loss before a checkpoint of it is written; save/restore every RNG state
# in checkpoints so that --resume continues the same run (mmlavit/engine/).
custom_hooks = [dict(type='DivergenceGuardHook'), dict(type='RandomStateHook')]
