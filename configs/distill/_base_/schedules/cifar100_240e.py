# The KD papers' CIFAR-100 recipe: SGD momentum 0.9, lr 0.05, wd 5e-4, 240 epochs, x0.1 at 150/180/210.
# the schedule carries the runtime, so that it can set default_hooks
_base_ = 'mmpretrain::_base_/default_runtime.py'
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[150, 180, 210], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=240, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2, save_best='auto'))
# Stop at the first non-finite loss before a checkpoint of it is written; save/restore every RNG state
# in checkpoints so that --resume continues the same run (mmlavit/engine/).
custom_hooks = [dict(type='DivergenceGuardHook'), dict(type='RandomStateHook')]
