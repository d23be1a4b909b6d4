# The GP-MAML code's schedule: 30,000 meta-iterations (meta-batch 4 = the train loader's batch size), Adam,
# meta-lr 1e-3 -> 1e-4 (at 10k) -> 1e-5 (at 20k); meta-val every 1,000 iterations, the best checkpoint kept.
_base_ = 'mmpretrain::_base_/default_runtime.py'
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
max_iters = 30000
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = dict(type='MultiStepLR', by_epoch=False, milestones=[10000, 20000], gamma=0.1)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1000, max_keep_ckpts=1,
                    save_best='fewshot/accuracy', rule='greater'))
log_processor = dict(by_epoch=False)
# stop at the first non-finite meta-training loss, before a checkpoint of that state is written; keep the
# random state in checkpoints for an exact --resume
custom_hooks = [dict(type='ProgressBarHook'), dict(type='DivergenceGuardHook'), dict(type='RandomStateHook')]
