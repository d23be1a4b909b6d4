# Small offline variant: Mask R-CNN + LaViT-T on the generated COCO-format shapes, CPU in minutes,
# evaluated by the stock CocoMetric (bbox + segm). The README's demo runs this config.
# The backbone starts from the small classification config's checkpoint (train it first:
#   python tools/train.py configs/lavit/lavit-t_synth-cls.py   -> work_dirs/lavit-t_synth-cls/epoch_15.pth),
# loaded through init_cfg=Pretrained with prefix='backbone.' exactly as the COCO configs load ImageNet
# weights.
# The heads are slimmed (128-channel FPN, 64-channel mask head) so that most of the time goes to training
# steps rather than to 256-channel convolutions over tiny images.
_base_ = [
    '../_base_/models/mask-rcnn_lavit-t_fpn.py',
    '../_base_/datasets/synth_coco_instance.py',
    '../_base_/schedules/schedule_synth-det.py',
    'mmdet::_base_/default_runtime.py',
]
ch = 128
pretrained = 'work_dirs/lavit-t_synth-cls/epoch_15.pth'
# named by tools/train.py when the checkpoint is missing
pretrain_config = 'configs/lavit/lavit-t_synth-cls.py'
model = dict(
    # the classifier's arch: its keys load
    backbone=dict(arch='tiny-lowsr', la_key_grid=4, drop_path_rate=0.0,
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(out_channels=ch),
    rpn_head=dict(in_channels=ch, feat_channels=ch, anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=ch),
        bbox_head=dict(in_channels=ch, fc_out_channels=256, num_classes=4),
        mask_roi_extractor=dict(out_channels=ch),
        mask_head=dict(in_channels=ch, conv_out_channels=64, num_classes=4)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=300), rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100), rcnn=dict(max_per_img=20)))
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=12, max_keep_ckpts=1))
