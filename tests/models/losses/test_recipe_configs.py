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
