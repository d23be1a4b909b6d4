"""Every shipped config parses and builds its model; `mmlavit::` and relative `_base_` both work."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmlavit  # noqa: F401  (enables the mmlavit:: config scope)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)


def _build_model(cfg):
    if cfg.get('distiller'):  # the teacher checkpoint is not shipped: random teacher weights here
        from mmlavit.models import apply_distiller
        cfg.distiller.teacher.checkpoint = None
        cfg.distiller.allow_random_teacher = True
        apply_distiller(cfg)
    scope = cfg.get('default_scope', 'mmlavit')
    init_default_scope(scope)
    reg = {'mmdet': 'mmdet.registry', 'mmseg': 'mmseg.registry', 'mmpretrain': 'mmpretrain.registry'}.get(
        scope, 'mmlavit.registry')
    models = __import__(reg, fromlist=['MODELS']).MODELS
    model_cfg = cfg.model.copy()
    backbone = model_cfg.get('backbone')
    if isinstance(backbone, dict) and backbone.get('init_cfg'):
        backbone['init_cfg'] = None  # the ImageNet checkpoint of a full-scale config is not shipped
    return models.build(model_cfg)


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_config_builds(path):
    cfg = Config.fromfile(path)
    assert 'train_dataloader' in cfg and 'model' in cfg
    distill = bool(cfg.get('distiller'))
    model = _build_model(cfg)
    assert sum(p.numel() for p in model.parameters()) > 0
    if distill:
        assert type(model).__name__ == 'SingleTeacherDistiller' and not model.teacher.training


def test_mmlavit_scope_base_in_a_user_config(tmp_path):
    user = tmp_path / 'my_cfg.py'
    user.write_text("_base_ = 'mmlavit::lavit/lavit-t_synth-cls.py'\n"
                    "model = dict(backbone=dict(dp_loss_weight=0.5))\n")
    cfg = Config.fromfile(str(user))
    assert cfg.model.backbone.type == 'LaViT' and cfg.model.backbone.dp_loss_weight == 0.5
    assert cfg.train_cfg.max_epochs == 15


def test_relative_base_in_a_user_config(tmp_path):
    user = tmp_path / 'my_cfg.py'
    rel = osp.relpath(osp.join(ROOT, 'configs', 'lavit', 'lavit-t_synth-cls.py'), tmp_path)
    user.write_text(f"_base_ = '{rel}'\nmodel = dict(head=dict(num_classes=7))\n")
    cfg = Config.fromfile(str(user))
    assert cfg.model.head.num_classes == 7


def test_mim_folder_ships_the_configs():
    from mmengine.utils import get_installed_path
    from mmengine.config import config as config_mod
    pkg = config_mod.get_installed_path('mmlavit')
    assert osp.isfile(osp.join(pkg, '.mim', 'configs', 'lavit', 'mask-rcnn_lavit.py'))
    assert osp.isfile(osp.join(pkg, '.mim', 'model-index.yml'))
    assert get_installed_path('mmdet') != pkg  # other packages are looked up as before


TRG_CLS = [p for p in CONFIGS if osp.basename(p).startswith('trg_')]


@pytest.mark.parametrize('path', TRG_CLS, ids=[osp.basename(p) for p in TRG_CLS])
def test_trg_configs_fit_their_feature_maps(path):
    """TRG's patch size divides the last feature map at each config's input size (a loss step runs)."""
    import torch
    from mmpretrain.structures import DataSample
    size = 224 if 'in1k' in path else 16 if 'digits' in path else 32
    model = _build_model(Config.fromfile(path)).train()
    n = int(model.student.head.num_classes)
    out = model.loss(torch.randn(4, 3, size, size), [DataSample().set_gt_label(i % n) for i in range(4)])
    assert {'distill.loss_trg_inner', 'distill.loss_trg_local', 'distill.loss_trg_global'} <= set(out)
    assert all(torch.isfinite(v) for k, v in out.items() if k.startswith('distill.'))
