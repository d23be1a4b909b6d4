_base_ = './retinanet_lavit-t_fpn_1x_coco.py'
pretrained = 'work_dirs/lavit-s_8xb128_in1k/epoch_300.pth'
pretrain_config = 'configs/lavit/lavit-s_8xb128_in1k.py'
model = dict(backbone=dict(arch='small', drop_path_rate=0.2, init_cfg=dict(checkpoint=pretrained)))
