# Small offline variant: UperNet + LaViT-T on the generated ADE20K-format scenes (IoUMetric, mIoU).
_base_ = [
    '../_base_/models/upernet_lavit-t.py',
    '../_base_/datasets/synth_ade20k.py',
    '../_base_/schedules/schedule_synth-seg.py',
    'mmseg::_base_/default_runtime.py',
]
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(data_preprocessor=dict(size={{_base_.crop_size}}),
             backbone=dict(drop_path_rate=0.0, la_key_grid=4),  # 4×4 pooled keys for the small inputs
             decode_head=dict(channels=128, norm_cfg=norm_cfg),
             auxiliary_head=dict(channels=64, norm_cfg=norm_cfg))
