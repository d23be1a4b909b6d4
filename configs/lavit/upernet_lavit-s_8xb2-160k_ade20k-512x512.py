# UperNet 160k on ADE20K with LaViT-S (stock mmseg bases; the Swin/PVT UperNet recipe: AdamW lr 6e-5,
# wd 0.01, 1500-iteration warm-up, poly).
_base_ = [
    '../_base_/models/upernet_lavit-t.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
]
crop_size = (512, 512)
pretrained = 'work_dirs/lavit-s_8xb128_in1k/epoch_300.pth'
pretrain_config = 'configs/lavit/lavit-s_8xb128_in1k.py'
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch='small', drop_path_rate=0.2,
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
                     paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False)
]
train_dataloader = dict(batch_size=2)
offline_config = 'configs/lavit/upernet_lavit-t_synth-ade20k.py'
