"""mmlavit.analysis.fewshot (fewshot_study.py): each run meta-tests its best checkpoint with every episode
recorded, and collect tabulates per-seed and pooled accuracy ± 95 % CI, the GP pick statistics and the
paired difference over the same (seed, episode) pairs, from what mmengine wrote (nothing trained)."""
import json
import os
import os.path as osp

import pytest

from mmlavit.analysis import fewshot
from mmlavit.analysis.study import Study, collect


def _finished(run, acc, ci, episodes, pick=None, seconds=100.0):
    os.makedirs(run.work_dir)
    with open(osp.join(run.work_dir, 'run.json'), 'w') as f:
        json.dump(dict(args=[], config_digest=None, seconds=seconds), f)
    dump = osp.join(run.test.work_dir, '20260101_000000')
    os.makedirs(dump)
    metrics = {'fewshot/accuracy': acc, 'fewshot/ci95': ci, 'fewshot/episodes': None}  # as mmengine writes it
    if pick is not None:
        metrics['fewshot/pick_rate'] = pick
    with open(osp.join(dump, '20260101_000000.json'), 'w') as f:
        json.dump(metrics, f)
    with open(osp.join(run.test.work_dir, 'episodes.json'), 'w') as f:
        json.dump(episodes, f)


def test_run_commands():
    run = fewshot.fewshot_run('digits', 5, 'gp-maml-self', 2, 'w')
    assert run.config == 'configs/fewshot/gp-maml_conv4_digits-fewshot-5way-5shot.py'
    assert run.work_dir == 'w/digits/gp-maml-self_5shot_seed2' and run.seed == 2
    assert list(run.options) == ['model.pseudo_label=model', 'train_dataloader.dataset.seed=2']
    assert run.test.checkpoint == 'best_*.pth' and run.test.work_dir == run.work_dir + '_test'
    assert run.test.options == ('model.pseudo_label=model',
                                f'test_evaluator.out_file={run.work_dir}_test/episodes.json')
    assert fewshot.reference('gp-maml-self') == 'gp-maml' and fewshot.reference('gp-boil') == 'boil'
    assert fewshot.reference('maml') is None


def test_collect_tables(tmp_path, monkeypatch):
    monkeypatch.setattr('mmlavit.analysis.study.Study._execute',
                        lambda *a, **k: pytest.fail('collect must not train'))
    out = str(tmp_path)
    maml = [dict(episode=i, accuracy=a, num_queries=10) for i, a in enumerate((0.5, 0.6, 0.7))]
    gp = [dict(episode=i, accuracy=a, num_queries=10, picked=p, pseudo_correct=c)
          for i, (a, p, c) in enumerate(((0.6, 2.0, 1.0), (0.6, 0.0, 0.0), (0.9, 4.0, 3.0)))]
    _finished(fewshot.fewshot_run('synth', 1, 'maml', 0, out), 60.0, 11.3, maml, seconds=90.0)
    _finished(fewshot.fewshot_run('synth', 1, 'gp-maml', 0, out), 70.0, 17.0, gp, pick=20.0, seconds=110.0)
    tables = fewshot.study_fewshot(Study(collect=True), 'synth', [1], ['maml', 'gp-maml', 'anil'], [0, 1],
                                   out)
    text = '\n'.join(tables[1])
    assert '| method | seed 0 | pooled | Δ vs reference |' in text  # seed 1 and ANIL did not run
    # pooled: mean 60, sd 10 over 3 episodes -> 1.96 · 10 / √3 = 11.32
    assert '| MAML | 60.00 ± 11.30 | 60.00 ± 11.32 | — | — | — | 90 |' in text
    # Δ: 10, 0, 20 -> mean 10, sd 10; picked 6 of 30 queries, 4 of 6 right
    # pooled 60, 60, 90: sd √300 -> 1.96 · √300 / √3 = 19.6; Δ: 10, 0, 20 -> mean 10, sd 10: ± 11.32;
    # picked 6 of 30 queries, 4 of the 6 right
    assert '| GP-MAML | 70.00 ± 17.00 | 70.00 ± 19.60 | +10.00 ± 11.32 (MAML) | 20.0 | 66.7 | 110 |' in text
    assert 'ANIL' not in text
    run = fewshot.fewshot_run('synth', 1, 'gp-maml', 0, out)
    one = fewshot.summarise(run, collect(run))
    assert (one['episodes'], one['pick'], one['acc'], one['train_s']) == (3, 20.0, 70.0, 110.0)
    assert one['records'] == gp and one['pseudo'] != one['pseudo']  # no pseudo_acc logged: NaN
