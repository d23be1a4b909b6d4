# Mask R-CNN + FPN (stock mmdet model base) with a LaViT-T backbone.
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
model = dict(
    backbone=dict(_delete_=True, type='LaViT', arch='tiny', out_indices=(0, 1, 2, 3), drop_path_rate=0.1,
                  dp_loss_weight=0.1),
    neck=dict(in_channels=[64, 128, 320, 512]))
# adds LaViT's diagonality-preserving loss (loss_dp) to the detector's losses
# the divergence guard stops at the first non-finite loss; RandomStateHook makes --resume exact
custom_hooks = [dict(type='AuxiliaryLossHook'), dict(type='DivergenceGuardHook'),
                dict(type='RandomStateHook')]
