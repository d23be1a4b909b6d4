"""Every TRG config gives >= 2 tokens per image and a non-zero L_inner (random teacher weights: the teacher
checkpoints are not shipped). That every shipped config, the distillation ones included, builds with a frozen
teacher is tests/test_configs.py's check."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope

import mmlavit  # noqa: F401
from mmlavit.models.losses.trg import contextual_loss

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIGS = sorted(osp.relpath(p, ROOT)
                 for p in glob.glob(osp.join(ROOT, 'configs', 'distill', '**', '*.py'), recursive=True)
                 if '_base_' not in p)
TRG = [c for c in CONFIGS if osp.basename(c).startswith('trg_')]
# the input size (H, W) each config trains at
SIZES = {'_synth-cls100': (32, 32), '_digits': (16, 16), '_cifar100': (32, 32), '_cifar100-lt': (32, 32),
         '_in1k': (224, 224), '_synth-coco': (192, 256), '_synth-ade20k': (128, 128),
         '_glyph-coco': (192, 256), '_glyph-ade20k': (128, 128)}


def _size(path):
    return next(v for k, v in SIZES.items() if osp.splitext(path)[0].endswith(k))


def _build(path):
    cfg = Config.fromfile(osp.join(ROOT, path))
    assert 'distiller' not in cfg, 'the old top-level block is not read any more'
    model_cfg = cfg.model.to_dict()
    distill = model_cfg['type'] == 'SingleTeacherDistiller'
    student = model_cfg['student'] if distill else model_cfg
    for m in (student, model_cfg.get('teacher', {}).get('model', {})):
        m.pop('pretrained', None)
        if isinstance(m.get('backbone'), dict):
            m['backbone']['init_cfg'] = None  # an ImageNet student's pretrained weights: not downloaded
    if distill:
        model_cfg['teacher'].update(checkpoint=None)
        model_cfg['allow_random_teacher'] = True
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor.to_dict())  # as the Runner does
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(model_cfg), distill


@pytest.mark.parametrize('path', TRG)
def test_trg_config_has_several_tokens_per_image_and_a_live_inner_term(path):
    model, _ = _build(path)
    model.eval()
    torch.manual_seed(0)
    x = torch.randn(2, 3, *_size(path))
    with torch.no_grad(), model.recording():
        model.student(x, mode='tensor')
        model.teacher(model.teacher_inputs(x), mode='tensor')
        kwargs = model.loss_inputs.gather('loss_trg', None)
        loss = model.distill_losses['loss_trg']
        fs, ft = loss.tokens(**kwargs)
        terms = loss(**kwargs)
    assert fs.shape[:2] == ft.shape[:2] and fs.shape[0] == 2
    assert fs.shape[1] >= 2, f'{path}: {fs.shape[1]} token per image: L_inner would be identically 0'
    assert contextual_loss(fs, ft) > 0
    assert terms['loss_trg_inner'] > 0 and all(torch.isfinite(v) for v in terms.values())
