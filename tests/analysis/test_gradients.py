"""mmlavit.analysis.gradients (distill_gradients.py): only a distillation config is accepted, with a message
naming the file (the whole measurement runs end to end in tests/tools/test_distill_tools.py)."""
import os.path as osp

import pytest

from mmlavit.analysis.gradients import load_distill_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_only_distillation_configs():
    plain = osp.join(ROOT, 'configs', 'distill', 'baselines', 'resnet8_synth-cls100.py')
    with pytest.raises(ValueError, match=r'resnet8_synth-cls100\.py: model.type .*not SingleTeacher'):
        load_distill_config(plain)
    kd = osp.join(ROOT, 'configs', 'distill', 'kd', 'kd_resnet32-resnet8_synth-cls100.py')
    cfg = load_distill_config(kd, {'model.losses.loss_kd.temperature': 2.0})
    assert cfg.model.type == 'SingleTeacherDistiller' and cfg.model.losses.loss_kd.temperature == 2.0
