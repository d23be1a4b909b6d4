# Semantic FPN 80k on ADE20K with LaViT-S (stock mmseg bases; AdamW lr 1e-4, wd 1e-4, poly, as PVT).
_base_ = [
    '../_base_/models/fpn_lavit-t.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py',
]
crop_size = (512, 512)
pretrained = 'work_dirs/lavit-s_8xb128_in1k/epoch_300.pth'
pretrain_config = 'configs/lavit/lavit-s_8xb128_in1k.py'
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch='small', drop_path_rate=0.2,
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4), clip_grad=None)
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=80000, by_epoch=False)]
train_dataloader = dict(batch_size=4)
offline_config = 'configs/lavit/fpn_lavit-t_synth-ade20k.py'
