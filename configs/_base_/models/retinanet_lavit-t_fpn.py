# RetinaNet + FPN (stock mmdet model base) with a LaViT-T backbone (P3-P5 from stages 1-3, P6/P7 extra).
_base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
model = dict(
    backbone=dict(_delete_=True, type='LaViT', arch='tiny', out_indices=(1, 2, 3), drop_path_rate=0.1,
                  dp_loss_weight=0.1),
    neck=dict(in_channels=[128, 320, 512], start_level=0, add_extra_convs='on_input', num_outs=5))
# the divergence guard stops at the first non-finite loss; RandomStateHook makes --resume exact
custom_hooks = [dict(type='AuxiliaryLossHook'), dict(type='DivergenceGuardHook'),
                dict(type='RandomStateHook')]
