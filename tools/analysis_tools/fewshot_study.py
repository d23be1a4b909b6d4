# Copyright (c) mmlavit contributors.
"""The small few-shot comparison: meta-train each method's small config on one source, for each seed, then
meta-test its best checkpoint on the source's 600 fixed test episodes. Reports, per method, accuracy ± 95 % CI
per seed and pooled over the seeds' episodes, the GP variants' pick rate and pseudo-label accuracy, and each
GP variant's paired difference from its base method over the same (seed, episode) pairs.

    python tools/analysis_tools/fewshot_study.py --shots 1                      # generated shapes, seed 0
    python tools/analysis_tools/fewshot_study.py --data digits --shots 1 5 --seeds 0 1 2   # real handwriting
    python tools/analysis_tools/fewshot_study.py --shots 1 --methods gp-maml-self      # pseudo-label ablation

Sources: ``synth`` (tools/dataset_converters/generate_data.py fewshot data/synthetic_fewshot) and ``digits``
(tools/dataset_converters/digits_fewshot.py data/digits_fewshot). Seed ``s`` sets ``randomness.seed`` and the
meta-training episodes' seed; the test episodes are the same for every seed. Finished runs are read back
(``run.json``). Writes ``<out-dir>/<data>_<shots>shot[_<methods>].md``.
"""
import argparse
import glob
import json
import math
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Dict, List, Optional

import numpy as np

from experiments import repo_path, train, write_table

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


def meta_test(config: str, work_dir: str, options=()) -> dict:
    """Meta-test the run's best checkpoint; returns the logged metrics and every episode's record."""
    ckpts = sorted(glob.glob(osp.join(work_dir, 'best_*.pth')))
    if not ckpts:
        raise FileNotFoundError(f'{work_dir}: no best_*.pth checkpoint (did meta-training finish?)')
    episodes_file = osp.join(work_dir + '_test', 'episodes.json')
    summary = osp.join(work_dir + '_test', 'meta_test.json')
    if osp.isfile(summary) and osp.getmtime(summary) > osp.getmtime(ckpts[-1]):
        with open(summary) as f:
            done = json.load(f)
        same = osp.basename(done.get('checkpoint', '')) == osp.basename(ckpts[-1])
        if same and done.get('options') == list(options):
            with open(episodes_file) as f:  # this checkpoint was meta-tested already: read it back
                return dict(done['metrics'], records=json.load(f))
    t0 = time.time()
    cmd = [sys.executable, repo_path('tools/test.py'), repo_path(config), ckpts[-1],
           '--work-dir', work_dir + '_test', '--cfg-options', *options,
           f'test_evaluator.out_file={episodes_file}']
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f'meta-test of {config} failed:\n{res.stderr[-3000:]}')
    out = res.stdout + res.stderr

    def get(k):
        return float(re.findall(rf'fewshot/{k}: ([0-9.na]+)', out)[-1])

    r = dict(acc=get('accuracy'), ci=get('ci95'), episodes=int(get('episodes')), test_s=time.time() - t0)
    if 'fewshot/pick_rate' in out:
        r['pick'] = get('pick_rate')
        r['pseudo'] = get('pseudo_acc') if 'fewshot/pseudo_acc' in out else float('nan')
    with open(summary, 'w') as f:
        json.dump(dict(checkpoint=ckpts[-1], options=list(options), metrics=r), f)
    with open(episodes_file) as f:
        r['records'] = json.load(f)
    return r


def ci95(x) -> tuple:
    x = np.asarray(x, dtype=np.float64)
    return float(x.mean()), float(1.96 * x.std(ddof=1) / math.sqrt(len(x)))


def pooled_gp(runs) -> tuple:
    """Pick rate and pseudo-label accuracy (%) pooled over every episode of ``runs``."""
    recs = [e for r in runs for e in r['records']]
    picked = sum(e.get('picked', 0.0) for e in recs)
    queries = sum(e['num_queries'] for e in recs)
    correct = sum(e.get('pseudo_correct', 0.0) for e in recs)
    return 100 * picked / queries, (100 * correct / picked if picked else float('nan'))


def reference(m: str) -> Optional[str]:
    """What ``m`` is compared with: a GP variant with its base method, an ablation with GP-MAML."""
    if m in VARIANTS:
        return VARIANTS[m][0]
    return m[3:] if m.startswith('gp-') else None


def claim(work_dir: str) -> bool:
    """Atomically claim a run for this process (several study processes can share one list of runs)."""
    os.makedirs(osp.dirname(osp.abspath(work_dir)), exist_ok=True)
    try:
        os.close(os.open(work_dir.rstrip('/') + '.claim', os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def run_one(a, shots: int, m: str, s: int, wait: bool) -> Optional[dict]:
    """Meta-train (or read back) and meta-test one (method, seed); None when it is not done and this process
    does not run it (``--collect``, or another process claimed it and ``wait`` is False)."""
    base, extra = VARIANTS.get(m, (m, []))
    cfg = f'configs/fewshot/{base}_conv4_{DATA[a.data]}-5way-{shots}shot.py'
    wd = osp.join(a.out_dir, a.data, f'{m}_{shots}shot_seed{s}')
    opts = extra + [f'train_dataloader.dataset.seed={s}']
    done = osp.join(wd + '_test', 'meta_test.json')
    finished = osp.isfile(osp.join(wd, 'run.json'))
    if a.collect:  # read back only: never train (an edited config would make train() start the run again)
        if not (finished and osp.isfile(done)):
            return None
        with open(done) as f, open(osp.join(wd + '_test', 'episodes.json')) as g, \
                open(osp.join(wd, 'run.json')) as h:
            return dict(json.load(f)['metrics'], records=json.load(g), train_s=json.load(h)['seconds'])
    if not finished and osp.exists(wd + '.claim') and not claim_mine.get(wd):
        if a.collect and not osp.isfile(done):
            return None
        if not a.collect:
            if not wait:
                return None
            while not osp.isfile(done):  # claimed by another process: its result
                time.sleep(20)
    elif not finished:
        if not claim(wd):
            return run_one(a, shots, m, s, wait)
        claim_mine[wd] = True
    _, t_train = train(cfg, wd, opts, seed=s, reuse=True)
    r = meta_test(cfg, wd, extra)
    r['train_s'] = t_train
    print(f'{a.data} {shots}-shot {m} seed {s}: {r["acc"]:.2f} ± {r["ci"]:.2f} '
          f'(train {t_train:.0f} s, test {r["test_s"]:.0f} s)', flush=True)
    return r


claim_mine: Dict[str, bool] = {}


def table(a, shots: int, runs: dict) -> List[str]:
    seeds = [s for s in a.seeds if any((m, s) in runs for m in a.methods)]
    lines = [f'5-way {shots}-shot on `{a.data}`, meta-test on its 600 fixed test episodes; seeds '
             f'{", ".join(map(str, seeds))} (meta-training seed and episodes). Accuracy % ± 95 % CI '
             f'(1.96·std/√n over episodes); pooled: over the seeds\' episodes; Δ: minus the reference '
             f'(GP variant: its base; ablation: GP-MAML), paired by (seed, episode), ± 95 % CI; — : not run.',
             '',
             '| method | ' + ' | '.join(f'seed {s}' for s in seeds) + ' | pooled | Δ vs reference | '
             'picked % | pseudo-label acc % | meta-train (s) |',
             '|---|' + '---|' * (len(seeds) + 5)]
    for m in a.methods:
        rs = [runs[m, s] for s in seeds if (m, s) in runs]
        if not rs:
            continue
        pm, pc = ci95([e['accuracy'] * 100 for r in rs for e in r['records']])
        ref, delta = reference(m), '—'
        if ref in a.methods:
            d = [100 * (e['accuracy'] - b['accuracy']) for s in seeds if (m, s) in runs and (ref, s) in runs
                 for e, b in zip(runs[m, s]['records'], runs[ref, s]['records'])]
            if d:
                dm, dc = ci95(d)
                delta = f'{dm:+.2f} ± {dc:.2f} ({NAMES[ref]})'
        pick, pseudo = pooled_gp(rs) if 'pick' in rs[0] else (None, None)
        cells = [f'{runs[m, s]["acc"]:.2f} ± {runs[m, s]["ci"]:.2f}' if (m, s) in runs else '—'
                 for s in seeds]
        lines.append(f'| {NAMES[m]} | ' + ' | '.join(cells) + f' | {pm:.2f} ± {pc:.2f} | {delta} | '
                     + (f'{pick:.1f} | {pseudo:.1f}' if pick is not None else '— | —')
                     + f' | {np.mean([r["train_s"] for r in rs]):.0f} |')
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', choices=sorted(DATA), default='synth')
    p.add_argument('--shots', type=int, nargs='+', choices=[1, 5], default=[1])
    p.add_argument('--methods', nargs='+', choices=METHODS, default=METHODS[:6])
    p.add_argument('--seeds', type=int, nargs='+', default=[0])
    p.add_argument('--out-dir', default='work_dirs/fewshot_study')
    p.add_argument('--collect', action='store_true',
                   help='train nothing: tabulate the runs that are finished and meta-tested')
    a = p.parse_args(argv)
    os.makedirs(a.out_dir, exist_ok=True)
    # seed by seed: a study cut short still compares every method on its first seeds. Runs claimed by
    # another study process (the same command started twice) are skipped, then waited for at the end.
    todo = [(shots, s, m) for s in a.seeds for shots in a.shots for m in a.methods]
    runs = {}
    for wait in (False, True):
        for shots, s, m in todo:
            if (shots, m, s) not in runs:
                r = run_one(a, shots, m, s, wait)
                if r is not None:
                    runs[shots, m, s] = r
        if a.collect:
            break
    for shots in a.shots:
        lines = table(a, shots, {(m, s): r for (k, m, s), r in runs.items() if k == shots})
        name = f'{a.data}_{shots}shot' + ('' if a.methods == METHODS[:6] else '_' + '-'.join(a.methods))
        write_table(osp.join(a.out_dir, f'{name}.md'), lines)
    return 0


if __name__ == '__main__':
    sys.exit(main())
