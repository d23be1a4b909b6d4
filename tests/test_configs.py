"""Every shipped config, used as the only ``_base_ = 'mmlavit::<path>'`` of a user config, builds its model
(a distiller with a frozen teacher of random weights: teacher checkpoints are not shipped), datasets and
evaluators the way mmengine's Runner does (root registries + the config's ``default_scope``), and one that
uses any of our classes imports mmlavit through ``custom_imports`` (what an upstream tool, which never
imports mmlavit itself, needs); relative ``_base_`` paths work too."""
import copy
import glob
import inspect
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.dataset import BaseDataset
from mmengine.registry import DATASETS, HOOKS, METRICS, MODELS, DefaultScope

import mmlavit  # noqa: F401  (enables the mmlavit:: config scope)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)


def _as_mmlavit_base(path, tmp_path):
    """A user config whose only line is ``_base_ = 'mmlavit::<path under configs/>'``."""
    user = tmp_path / 'user_cfg.py'
    user.write_text(f"_base_ = 'mmlavit::{osp.relpath(path, osp.join(ROOT, 'configs'))}'\n")
    return Config.fromfile(str(user))


def _model_cfg(cfg):
    model_cfg = cfg.model.copy()
    if model_cfg.get('type') == 'SingleTeacherDistiller':  # the teacher checkpoint is not shipped
        model_cfg.teacher.checkpoint = None
        model_cfg.allow_random_teacher = True
    backbone = model_cfg.get('backbone')
    if isinstance(backbone, dict) and backbone.get('init_cfg'):
        backbone['init_cfg'] = None  # the ImageNet checkpoint of a full-scale config is not shipped
    return model_cfg


def _build_model(cfg):
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmlavit')):
        return MODELS.build(_model_cfg(cfg))


def _lazy(ds_cfg, reg):
    """``ds_cfg`` with ``lazy_init=True`` for every dataset class (wrappers and the wrapped) that takes it;
    the class of the outermost one."""
    cls = reg.get(ds_cfg['type'])
    if cls is None:
        raise KeyError(f"{ds_cfg['type']} is not in the {reg.scope}::dataset registry")
    if issubclass(cls, BaseDataset) or 'lazy_init' in inspect.signature(cls.__init__).parameters:
        ds_cfg['lazy_init'] = True
    if isinstance(ds_cfg.get('dataset'), dict):
        _lazy(ds_cfg['dataset'], reg)
    return cls


def _build_dataset(ds_cfg):
    """mmengine ``BaseDataset`` subclasses (and wrappers that take it) are built with ``lazy_init=True``:
    type, pipeline and arguments checked, annotations not read, nothing downloaded. A dataset without
    ``lazy_init`` (our ``EpisodicDataset`` reads its image folders in ``__init__``) is resolved to its class
    in the same scope."""
    ds_cfg = copy.deepcopy(ds_cfg)
    scope = ds_cfg.pop('_scope_', None)
    with DefaultScope.overwrite_default_scope(scope), DATASETS.switch_scope_and_registry(scope) as reg:
        cls = _lazy(ds_cfg, reg)
        return reg.build(ds_cfg) if ds_cfg.get('lazy_init') else cls


def _ours(obj):
    """Whether ``obj`` (an instance or a class) is one of mmlavit's."""
    cls = obj if isinstance(obj, type) else type(obj)
    return cls.__module__.split('.')[0] == 'mmlavit'


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_config_builds_as_mmlavit_base(path, tmp_path, coco_root, monkeypatch):
    monkeypatch.chdir(ROOT)  # teacher configs are given relative to the repository
    cfg = _as_mmlavit_base(path, tmp_path)
    assert 'distiller' not in cfg, 'the old top-level distiller block is not read any more'
    assert cfg.default_scope in ('mmpretrain', 'mmdet', 'mmseg')
    # the outermost typed dicts carry the config's own scope, not the package name
    assert cfg.model.get('_scope_') == cfg.default_scope
    model = _build_model(cfg)
    assert sum(p.numel() for p in model.parameters()) > 0
    if type(model).__name__ == 'SingleTeacherDistiller':  # the teacher frozen, in eval mode
        assert not model.teacher.training and not any(p.requires_grad for p in model.teacher.parameters())
    ours = [type(m).__name__ for m in model.modules() if _ours(m)]
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if loader:
            assert loader.dataset.get('_scope_') == cfg.default_scope
            dataset = _build_dataset(loader.dataset)
            assert dataset is not None
            ours += [type(dataset).__name__] if _ours(dataset) else []
    ann = osp.join(coco_root, 'annotations', 'instances_val2017.json')
    for split in ('val', 'test'):
        metrics = cfg.get(f'{split}_evaluator')
        for m in (metrics if isinstance(metrics, (list, tuple)) else [metrics] if metrics else []):
            m = m.copy()
            if 'ann_file' in m:  # CocoMetric reads its annotation file in __init__
                m['ann_file'] = ann
            with DefaultScope.overwrite_default_scope(cfg.default_scope):
                metric = METRICS.build(m)
            assert metric is not None
            ours += [type(metric).__name__] if _ours(metric) else []
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        ours += [h['type'] for h in cfg.get('custom_hooks', []) if _ours(HOOKS.get(h['type']))]
    if ours:
        imports = (cfg.get('custom_imports') or {}).get('imports', [])
        assert 'mmlavit' in imports, (f'{osp.relpath(path, ROOT)} uses {sorted(set(ours))} of mmlavit but '
                                      "does not import it: add custom_imports = dict(imports=['mmlavit'])")


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
    from mmengine.config import config as config_mod
    from mmengine.utils import get_installed_path
    pkg = config_mod.get_installed_path('mmlavit')
    assert osp.isfile(osp.join(pkg, '.mim', 'configs', 'lavit', 'mask-rcnn_lavit.py'))
    assert osp.isfile(osp.join(pkg, '.mim', 'model-index.yml'))
    assert get_installed_path('mmdet') != pkg  # other packages are looked up as before


TRG_CLS = [p for p in CONFIGS if osp.basename(p).startswith('trg_resnet')]  # the classification ones


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
