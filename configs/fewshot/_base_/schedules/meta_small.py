# CPU schedule of the small variants: 600 meta-iterations (meta-batch 4), Adam 1e-3 -> 1e-4 at 400,
# meta-val at 300 and 600 (best checkpoint kept).
_base_ = './meta_30k.py'
max_iters = 600
param_scheduler = dict(type='MultiStepLR', by_epoch=False, milestones=[400], gamma=0.1)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=300)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=300))
