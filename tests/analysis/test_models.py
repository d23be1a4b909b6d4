"""mmlavit.analysis.models: backbones by table name, whole models from configs (files, mmlavit:: and stock
names), with no download and with the runner's data preprocessing."""
import os.path as osp

import pytest
import torch

from mmlavit.analysis.models import BACKBONES, build_backbone, build_model, load_config, strip_pretrained

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PVT_CHANNELS = [64, 128, 320, 512]


def test_lavit_variants_by_name():
    twin = build_backbone('LaViT-T twin')
    assert {blk.mode for stage in twin.stages for blk in stage.blocks} == {'va'}
    lavit = build_backbone('LaViT-T')
    assert 'la' in {blk.mode for stage in lavit.stages for blk in stage.blocks}
    assert build_backbone('LaViT-T scores').la_chain == 'scores' and lavit.la_chain == 'softmax'
    assert all(stage.with_cp for stage in build_backbone('LaViT-S cp').stages)
    assert not any(stage.with_cp for stage in lavit.stages)
    assert sum(p.numel() for p in build_backbone('LaViT-S').parameters()) > \
        sum(p.numel() for p in lavit.parameters())
    with pytest.raises(KeyError, match="unknown model 'PVTv9'"):
        build_backbone('PVTv9')


@pytest.mark.parametrize('name', ['LaViT-T', 'mmdet PVTv2-b1', 'timm PVTv2-b1', 'mmdet Swin-T'])
def test_every_backbone_returns_four_stage_maps(name):
    assert name in BACKBONES
    model = build_backbone(name, (64, 64))
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[-1] for o in out] == [16, 8, 4, 2]  # strides 4, 8, 16, 32
    if 'PVTv2' in name:
        assert [o.shape[1] for o in out] == PVT_CHANNELS


def test_strip_pretrained_drops_only_checkpoint_loads():
    cfg = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='x.pth')),
               neck=dict(init_cfg=dict(type='Xavier')),
               head=[dict(pretrained='y.pth'), dict(pretrained=True)],
               pvt=dict(init_cfg=dict(checkpoint='z.pth')))
    strip_pretrained(cfg)
    assert cfg['backbone']['init_cfg'] is None and cfg['pvt']['init_cfg'] is None
    assert cfg['neck']['init_cfg'] == dict(type='Xavier')
    assert cfg['head'][0]['pretrained'] is None and cfg['head'][1]['pretrained'] is True


def test_stock_config_loses_its_pretrained_init_only():
    _, model = load_config('mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py')
    assert model.backbone.type == 'SwinTransformer' and model.backbone.init_cfg is None
    timm = dict(_delete_=True, type='mmpretrain.TIMMBackbone', model_name='pvt_v2_b2', features_only=True,
                pretrained=False, out_indices=(0, 1, 2, 3))
    _, model = load_config('mmlavit::lavit/mask-rcnn_lavit-t_fpn_1x_coco.py', backbone=timm,
                           neck_channels=PVT_CHANNELS)
    assert model.backbone.type == 'mmpretrain.TIMMBackbone' and 'arch' not in model.backbone
    assert model.neck.in_channels == PVT_CHANNELS and model.roi_head.type == 'StandardRoIHead'


def test_build_model_normalises_as_the_runner_does():
    """The config's top-level data_preprocessor (mean/std, BGR->RGB) is the model's, as in training; an
    ``mmlavit::`` name builds the same model as the file."""
    cfg, model = build_model(osp.join(ROOT, 'configs', 'lavit', 'lavit-t_synth-cls.py'))
    pre = model.data_preprocessor
    assert torch.allclose(pre.mean.view(-1), torch.tensor([123.675, 116.28, 103.53]))
    assert torch.allclose(pre.std.view(-1), torch.tensor([58.395, 57.12, 57.375])) and pre.to_rgb
    assert not model.training and type(model).__name__ == 'ImageClassifier'
    _, named = build_model('mmlavit::lavit/lavit-t_synth-cls.py')
    assert named.state_dict().keys() == model.state_dict().keys()


def test_build_model_loads_a_checkpoint(tmp_path):
    config = osp.join(ROOT, 'configs', 'lavit', 'lavit-t_synth-cls.py')
    _, model = build_model(config)
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'm.pth')
    _, again = build_model(config, str(tmp_path / 'm.pth'))  # a fresh init differs; the loaded one equals
    for k, v in model.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k
