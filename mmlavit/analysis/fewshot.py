"""The few-shot study of ``tools/analysis_tools/fewshot_study.py``: meta-train each method's small config on
one source per seed, meta-test its best checkpoint on the source's fixed test episodes (every episode's
record kept by :class:`~mmlavit.evaluation.FewShotMetric`'s ``out_file``), and tabulate accuracy ± 95 % CI
per seed and pooled, the GP variants' pick statistics, and each variant's paired difference from its
reference over the same (seed, episode) pairs."""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmlavit.evaluation.stats import mean_ci95

from .study import Result, Run, Test

METHODS = ['maml', 'gp-maml', 'anil', 'gp-anil', 'boil', 'gp-boil', 'gp-maml-self', 'gp-maml-split',
           'gp-maml-mlp']
NAMES = {'maml': 'MAML', 'gp-maml': 'GP-MAML', 'anil': 'ANIL', 'gp-anil': 'GP-ANIL', 'boil': 'BOIL',
         'gp-boil': 'GP-BOIL', 'gp-maml-self': "GP-MAML, pseudo-labels from the adapted model's predictions",
         'gp-maml-split': 'GP-MAML, support and query embedded apart (lp_batch=split)',
         'gp-maml-mlp': 'GP-MAML, MLP relation with softplus σ (relation=mlp)'}
# ablations: (config of, extra --cfg-options)
VARIANTS = {'gp-maml-self': ('gp-maml', ['model.pseudo_label=model']),
            'gp-maml-split': ('gp-maml', ['model.lp_batch=split']),
            'gp-maml-mlp': ('gp-maml', ['model.relation=mlp'])}
DATA = {'synth': 'synth-fewshot', 'digits': 'digits-fewshot'}


def reference(m: str) -> Optional[str]:
    """What ``m`` is compared with: a GP variant with its base method, an ablation with GP-MAML."""
    if m in VARIANTS:
        return VARIANTS[m][0]
    return m[3:] if m.startswith('gp-') else None


def fewshot_run(data: str, shots: int, m: str, seed: int, out_dir: str) -> Run:
    """Meta-train method ``m`` (seed: ``randomness.seed`` and the meta-training episodes' seed) into
    ``<out_dir>/<data>/<m>_<shots>shot_seed<seed>``, then meta-test its best checkpoint into ``<that>_test``
    (every episode's record in ``episodes.json`` there)."""
    base, extra = VARIANTS.get(m, (m, []))
    cfg = f'configs/fewshot/{base}_conv4_{DATA[data]}-5way-{shots}shot.py'
    wd = osp.join(out_dir, data, f'{m}_{shots}shot_seed{seed}')
    episodes = osp.join(wd + '_test', 'episodes.json')
    return Run(cfg, wd, [*extra, f'train_dataloader.dataset.seed={seed}'], seed,
               Test('best_*.pth', wd + '_test', (*extra, f'test_evaluator.out_file={episodes}')))


def summarise(run: Run, result: Optional[Result]) -> Optional[dict]:
    """``dict(acc, ci, episodes, train_s, test_s, records[, pick, pseudo])`` of a meta-tested run (None when
    it is not); ``records``: every test episode's."""
    if result is None or 'fewshot/accuracy' not in result.test:
        return None
    t = result.test
    with open(osp.join(run.test.work_dir, 'episodes.json')) as f:
        records = json.load(f)
    # mmengine's dump keeps floats but writes integer metrics (numpy ints) as null: count the records
    r = dict(acc=t['fewshot/accuracy'], ci=t['fewshot/ci95'], episodes=len(records),
             train_s=result.seconds, test_s=result.test_seconds, records=records)
    if 'fewshot/pick_rate' in t:
        r['pick'] = t['fewshot/pick_rate']
        r['pseudo'] = t.get('fewshot/pseudo_acc', float('nan'))
    return r


def pooled_gp(runs: Sequence[dict]) -> tuple:
    """Pick rate and pseudo-label accuracy (%) pooled over every episode of ``runs``."""
    recs = [e for r in runs for e in r['records']]
    picked = sum(e.get('picked', 0.0) for e in recs)
    queries = sum(e['num_queries'] for e in recs)
    correct = sum(e.get('pseudo_correct', 0.0) for e in recs)
    return 100 * picked / queries, (100 * correct / picked if picked else float('nan'))


def table(data: str, shots: int, methods: Sequence[str], seeds: Sequence[int],
          runs: Dict[tuple, dict]) -> List[str]:
    """Markdown lines of one shot count; ``runs[(method, seed)]``: :func:`summarise` results."""
    seeds = [s for s in seeds if any((m, s) in runs for m in methods)]
    lines = [f'5-way {shots}-shot on `{data}`, meta-test on its 600 fixed test episodes; seeds '
             f'{", ".join(map(str, seeds))} (meta-training seed and episodes). Accuracy % ± 95 % CI '
             f'(1.96·std/√n over episodes); pooled: over the seeds\' episodes; Δ: minus the reference '
             f'(GP variant: its base; ablation: GP-MAML), paired by (seed, episode), ± 95 % CI; — : not run.',
             '',
             '| method | ' + ' | '.join(f'seed {s}' for s in seeds) + ' | pooled | Δ vs reference | '
             'picked % | pseudo-label acc % | meta-train (s) |',
             '|---|' + '---|' * (len(seeds) + 5)]
    for m in methods:
        rs = [runs[m, s] for s in seeds if (m, s) in runs]
        if not rs:
            continue
        pm, pc = mean_ci95([e['accuracy'] * 100 for r in rs for e in r['records']])
        ref, delta = reference(m), '—'
        if ref in methods:
            d = [100 * (e['accuracy'] - b['accuracy']) for s in seeds if (m, s) in runs and (ref, s) in runs
                 for e, b in zip(runs[m, s]['records'], runs[ref, s]['records'])]
            if d:
                dm, dc = mean_ci95(d)
                delta = f'{dm:+.2f} ± {dc:.2f} ({NAMES[ref]})'
        pick, pseudo = pooled_gp(rs) if 'pick' in rs[0] else (None, None)
        cells = [f'{runs[m, s]["acc"]:.2f} ± {runs[m, s]["ci"]:.2f}' if (m, s) in runs else '—'
                 for s in seeds]
        train_s = [r['train_s'] for r in rs]
        lines.append(f'| {NAMES[m]} | ' + ' | '.join(cells) + f' | {pm:.2f} ± {pc:.2f} | {delta} | '
                     + (f'{pick:.1f} | {pseudo:.1f}' if pick is not None else '— | —')
                     + f' | {sum(train_s) / len(train_s):.0f} |')
    return lines


def study_fewshot(study, data: str, shots_list: Sequence[int], methods: Sequence[str], seeds: Sequence[int],
                  out_dir: str) -> Dict[int, List[str]]:
    """Run (or read back) every (shots, seed, method), seed by seed (a study cut short still compares every
    method on its first seeds); returns each shot count's table lines."""
    runs = {(k, m, s): fewshot_run(data, k, m, s, out_dir)
            for s in seeds for k in shots_list for m in methods}

    def report(run, result):
        r = summarise(run, result)
        if r is not None:
            print(f'{run.work_dir}: {r["acc"]:.2f} ± {r["ci"]:.2f} (train {r["train_s"]:.0f} s)', flush=True)
    done = study.run(list(runs.values()), on_result=None if study.collect else report)
    out = {}
    for k in shots_list:
        res = {(m, s): summarise(r, done[r.work_dir]) for (kk, m, s), r in runs.items() if kk == k}
        out[k] = table(data, k, methods, seeds, {key: v for key, v in res.items() if v is not None})
    return out
