"""Meta-test accuracy: mean over episodes ± the 95 % confidence interval."""
import json
import logging
import math
import os
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from mmlavit.registry import register

from .stats import mean_ci95  # (mean, 1.96 · std / √n): what few-shot papers report

__all__ = ['FewShotMetric', 'mean_ci95']

_KEYS = ('accuracy', 'episode', 'nonfinite', 'num_queries', 'picked', 'pseudo_correct')


@register('metric')
class FewShotMetric(BaseMetric):
    """Collects each episode's query accuracy (the model's ``predict`` outputs ``dict(accuracy=...)`` per
    task) and reports ``accuracy`` (%) and ``ci95`` (%) over all episodes, plus ``episodes`` and
    ``nonfinite`` (episodes whose query logits were not finite). With the GP models also ``pick_rate`` (% of
    all queries picked for pseudo-labelling) and ``pseudo_acc`` (% of the picked queries whose pseudo-label
    is right), both pooled over episodes.

    Non-finite episodes are not dropped: ``accuracy`` and ``ci95`` become NaN and a warning lists the
    episode indices, so a diverged model never reports a number. Config: ``val_evaluator =
    dict(type='FewShotMetric')`` (prefix ``fewshot``).

    Args:
        out_file (str, optional): also write every episode's record (``episode``, ``accuracy`` in [0, 1],
            ``picked``...) to this JSON file, for paired comparisons over the same episodes. Defaults to None.
    """
    default_prefix = 'fewshot'

    def __init__(self, out_file: Optional[str] = None, **kwargs):
        super().__init__(**kwargs)
        self.out_file = out_file

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for r in data_samples:
            self.results.append({k: float(r[k]) for k in _KEYS if k in r})

    def compute_metrics(self, results: List[dict]) -> dict:
        bad = [r for r in results if r.get('nonfinite') or math.isnan(r['accuracy'])]
        if bad:
            eps = [int(r['episode']) if 'episode' in r else '?' for r in bad]
            print_log(f'FewShotMetric: {len(bad)} of {len(results)} episodes have non-finite query logits '
                      f'(episodes {eps[:20]}{" ..." if len(eps) > 20 else ""}); accuracy is reported as nan',
                      logger='current', level=logging.WARNING)
        if self.out_file:
            os.makedirs(osp.dirname(osp.abspath(self.out_file)), exist_ok=True)
            with open(self.out_file, 'w') as f:
                json.dump(sorted(results, key=lambda r: r.get('episode', 0)), f)
        mean, ci = mean_ci95([r['accuracy'] * 100 for r in results])
        out = dict(accuracy=mean, ci95=ci, episodes=len(results), nonfinite=len(bad))
        if any('picked' in r for r in results):
            picked = sum(r.get('picked', 0.0) for r in results)
            out['pick_rate'] = 100 * picked / sum(r['num_queries'] for r in results if 'picked' in r)
            if picked:
                out['pseudo_acc'] = 100 * sum(r.get('pseudo_correct', 0.0) for r in results) / picked
        return out
