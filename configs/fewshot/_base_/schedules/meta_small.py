# CPU schedule of the small variants: 400 meta-iterations (meta-batch 4), Adam 1e-3 -> 1e-4 at 300,
# meta-val on 100 episodes at 200 and 400 (best checkpoint kept).
_base_ = './meta_30k.py'
max_iters = 400
param_scheduler = dict(type='MultiStepLR', by_epoch=False, milestones=[300], gamma=0.1)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=200)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=200))
