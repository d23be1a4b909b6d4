"""The shipped method configs carry the published recipes they name, and the switches a study sets are plain
keys (options change existing keys only)."""
import os.path as osp

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def _model(path):
    return Config.fromfile(osp.join(ROOT, 'configs/distill', path)).model


def test_dkd_imagenet_leaf_is_mdistillers_recipe():
    """mdistiller configs/imagenet/r34_r18/dkd.yaml: CE 1.0, α 1 (its default), β 0.5, T 1, WARMUP 1 —
    one epoch counted from epoch 1, so the full weight from the start: no warm-up."""
    m = _model('dkd/dkd_resnet34-resnet18_in1k.py')
    dkd = m.losses.loss_dkd
    assert (dkd.alpha, dkd.beta, dkd.temperature, dkd.warmup) == (1.0, 0.5, 1.0, 0.0)
    assert dkd.get('loss_weight', 1.0) == 1.0 and m.student_loss_weight == 1.0
    kd = _model('kd/kd_resnet34-resnet18_in1k.py')  # mdistiller's r34_r18/kd.yaml: T 1, CE 0.5, KD 0.5
    assert (kd.losses.loss_kd.temperature, kd.losses.loss_kd.loss_weight, kd.student_loss_weight) == \
        (1.0, 0.5, 0.5)


@pytest.mark.parametrize('leaf', ['clkd/clkd-reimpl_resnet32-resnet8_synth-cls100.py',
                                  'clkd/clkd-reimpl_resnet34-resnet18_in1k.py'])
def test_clkd_reimpl_leaves_are_the_reimplementations_form(leaf):
    m = _model(leaf)
    c = m.losses.loss_clkd
    assert (c.mu, c.beta, c.nu, c.loss_weight, c.reduction, c.cc_normalize, c.logit_scale, c.warmup) == \
        (0.5, 2.0, 0.4, 1.0, 'element', False, 1.0, 0.0)
    assert m.student_loss_weight == 0.1


def test_study_switches_are_plain_keys_of_the_method_bases():
    from mmengine.hub import get_config
    clkd = get_config('mmlavit::distill/_base_/methods/clkd.py').distill_method
    assert {'loss_weight', 'logit_scale'} <= set(clkd.losses.loss_clkd) and 'student_loss_weight' in clkd
    trg = get_config('mmlavit::distill/_base_/methods/trg.py').distill_method.losses.loss_trg
    assert {'num_tokens', 'patch_size', 'patch_mode', 'local_tokens', 'graph_reduction'} <= set(trg)


@pytest.mark.parametrize('options,tokens', [
    ({}, 4),  # the shipped leaf: 4 averaged 4x4 patches of the 8x8 last map
    ({'model.losses.loss_trg.patch_size': 1}, 64),  # each position of the 8x8 map a token
    ({'model.recorders.feat.source': 'backbone.layers.1', 'model.loss_inputs.loss_trg.student.item': None,
      'model.loss_inputs.loss_trg.teacher.item': None, 'model.losses.loss_trg.student_dim': 32,
      'model.losses.loss_trg.teacher_dim': 32, 'model.losses.loss_trg.patch_size': 1}, 256),  # stage 2, 16x16
])
def test_trg_tokens_that_carry_space_are_config_keys(options, tokens):
    """TRG's tokens from the 8x8 last map position by position, or from an earlier stage, by setting keys the
    leaf already has (as the study's options do)."""
    import torch
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(osp.join(ROOT, 'configs/distill/trg/trg_resnet32-resnet8_synth-cls100.py'))
    for key in options:  # existing keys only, as the study's options
        node = cfg
        for part in key.split('.'):
            assert part in node, key
            node = node[part]
    cfg.merge_from_dict(options)
    model_cfg = cfg.model.to_dict()
    model_cfg['teacher'].update(checkpoint=None)
    model_cfg['allow_random_teacher'] = True
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(model_cfg)
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad(), model.recording():
        model.student(x, mode='tensor')
        model.teacher(model.teacher_inputs(x), mode='tensor')
        kwargs = model.loss_inputs.gather('loss_trg', None)
        loss = model.distill_losses['loss_trg']
        loss.check_inputs(kwargs, 'model.losses.loss_trg', 'model.losses.loss_trg')
        fs, ft = loss.tokens(**kwargs)
        terms = loss(**kwargs)
    assert fs.shape[:2] == ft.shape[:2] == (2, tokens)
    assert all(torch.isfinite(v) for v in terms.values()) and terms['loss_trg_inner'] > 0
