"""Meta-test accuracy: mean over episodes ± the 95 % confidence interval."""
import math
from typing import List, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from mmlavit.registry import register


def mean_ci95(values: Sequence[float]):
    """``(mean, 1.96 · std / √n)`` with the sample std (ddof=1), as few-shot papers report."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        return float(v.mean()) if len(v) else float('nan'), float('nan')
    return float(v.mean()), float(1.96 * v.std(ddof=1) / math.sqrt(len(v)))


@register('metric')
class FewShotMetric(BaseMetric):
    """Collects each episode's query accuracy (the model's ``predict`` outputs ``dict(accuracy=...)`` per
    task) and reports ``accuracy`` (%) and ``ci95`` (%) over all episodes, plus ``episodes``; with the GP
    models also the share of queries picked for pseudo-labelling and the pseudo-labels' accuracy.
    Config: ``val_evaluator = dict(type='FewShotMetric')`` (prefix ``fewshot``)."""
    default_prefix = 'fewshot'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for r in data_samples:
            self.results.append({k: float(v) for k, v in r.items() if k in ('accuracy', 'pick_rate', 'pseudo_acc')})

    def compute_metrics(self, results: List[dict]) -> dict:
        mean, ci = mean_ci95([r['accuracy'] * 100 for r in results])
        out = dict(accuracy=mean, ci95=ci, episodes=len(results))
        for k in ('pick_rate', 'pseudo_acc'):
            vals = [r[k] for r in results if k in r and not math.isnan(r[k])]
            if vals:
                out[k] = float(np.mean(vals)) * 100
        return out
