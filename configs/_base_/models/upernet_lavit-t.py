# UperNet (stock mmseg model base) with a LaViT-T backbone; auxiliary FCN head on stage 3.
_base_ = 'mmseg::_base_/models/upernet_r50.py'
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
model = dict(
    pretrained=None,
    backbone=dict(_delete_=True, type='LaViT', arch='tiny', out_indices=(0, 1, 2, 3), drop_path_rate=0.1,
                  dp_loss_weight=0.1),
    decode_head=dict(in_channels=[64, 128, 320, 512], num_classes=150),
    auxiliary_head=dict(in_channels=320, num_classes=150))
# the divergence guard stops at the first non-finite loss; RandomStateHook makes --resume exact
custom_hooks = [dict(type='AuxiliaryLossHook'), dict(type='DivergenceGuardHook'),
                dict(type='RandomStateHook')]
