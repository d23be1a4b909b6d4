# The default LaViT detector (the design card's `tools/train.py configs/lavit/mask-rcnn_lavit.py`):
# Mask R-CNN 1x, LaViT-T, COCO 2017 at data/coco/ (override with --cfg-options).
_base_ = './mask-rcnn_lavit-t_fpn_1x_coco.py'
