"""FewShotMetric: mean ± 95 % CI over episodes; non-finite episodes reported, not dropped; GP shares."""
import json
import math

import numpy as np
import pytest

import mmlavit  # noqa: F401
from mmlavit.evaluation import FewShotMetric
from mmlavit.evaluation import fewshot_metric as metric_module
from mmlavit.evaluation import mean_ci95


def test_nonfinite_episode_is_reported_not_dropped(monkeypatch):
    logs = []
    monkeypatch.setattr(metric_module, 'print_log', lambda msg, **kw: logs.append(msg))
    metric = FewShotMetric()
    metric.process(None, [dict(accuracy=0.6, episode=0, nonfinite=False),
                          dict(accuracy=float('nan'), episode=5, nonfinite=True),
                          dict(accuracy=0.8, episode=2, nonfinite=False)])
    out = metric.compute_metrics(metric.results)
    assert math.isnan(out['accuracy']) and math.isnan(out['ci95'])  # no number for a diverged model
    assert out['nonfinite'] == 1 and out['episodes'] == 3
    assert len(logs) == 1 and '1 of 3 episodes' in logs[0] and '[5]' in logs[0]
    assert all(math.isnan(v) for v in mean_ci95([0.5, float('nan')]))


def test_pooled_pick_rate_pseudo_accuracy_and_episode_file(tmp_path):
    out_file = tmp_path / 'sub' / 'episodes.json'
    metric = FewShotMetric(out_file=str(out_file))
    # episode 1 picks 3 of 10 queries (2 right), episode 0 picks none: pooled 3/20 picked, 2/3 right
    metric.process(None, [dict(accuracy=0.7, episode=1, nonfinite=False, num_queries=10, picked=3.,
                               pseudo_correct=2., pred=None),
                          dict(accuracy=0.5, episode=0, nonfinite=False, num_queries=10, picked=0.,
                               pseudo_correct=0.)])
    out = metric.compute_metrics(metric.results)
    assert out['accuracy'] == pytest.approx(60.0)
    assert out['ci95'] == pytest.approx(1.96 * np.std([50., 70.], ddof=1) / math.sqrt(2))
    assert out['pick_rate'] == pytest.approx(15.0) and out['pseudo_acc'] == pytest.approx(200 / 3)
    assert out['nonfinite'] == 0
    recs = json.loads(out_file.read_text())
    assert [r['episode'] for r in recs] == [0, 1] and recs[1]['picked'] == 3 and 'pred' not in recs[1]
    # a model without pseudo-labelling reports no GP shares
    plain = FewShotMetric()
    plain.process(None, [dict(accuracy=1.0), dict(accuracy=0.0)])
    assert 'pick_rate' not in plain.compute_metrics(plain.results)
