# Copyright (c) mmlavit contributors.
"""The small few-shot comparison: meta-train each method's small config (configs/fewshot/*_synth-fewshot-*),
then meta-test its best checkpoint on the 600 fixed test episodes; accuracy ± 95 % CI.

    python tools/analysis_tools/fewshot_study.py --shots 1 --methods maml gp-maml anil gp-anil boil gp-boil
    python tools/analysis_tools/fewshot_study.py --shots 1 --methods gp-maml-self   # pseudo-label ablation
Needs the generated source (tools/dataset_converters/generate_data.py fewshot). Writes <out-dir>/<shots>shot.md.
"""
import argparse
import glob
import os
import os.path as osp
import re
import subprocess
import sys
import time

from experiments import ROOT, train, write_table

METHODS = ['maml', 'gp-maml', 'anil', 'gp-anil', 'boil', 'gp-boil', 'gp-maml-self']
NAMES = {'maml': 'MAML', 'gp-maml': 'GP-MAML', 'anil': 'ANIL', 'gp-anil': 'GP-ANIL', 'boil': 'BOIL',
         'gp-boil': 'GP-BOIL', 'gp-maml-self': "GP-MAML, pseudo-labels from the adapted model's own predictions"}
# ablations: (config of, extra --cfg-options)
VARIANTS = {'gp-maml-self': ('gp-maml', ['model.pseudo_label=model'])}


def meta_test(config: str, work_dir: str, options=()) -> dict:
    ckpt = sorted(glob.glob(osp.join(ROOT, work_dir, 'best_*.pth')))[-1]
    t0 = time.time()
    cmd = [sys.executable, 'tools/test.py', config, ckpt, '--work-dir', work_dir + '_test']
    res = subprocess.run(cmd + (['--cfg-options', *options] if options else []), cwd=ROOT, capture_output=True,
                         text=True)
    if res.returncode:
        raise RuntimeError(f'meta-test of {config} failed:\n{res.stderr[-3000:]}')
    out = res.stdout + res.stderr
    get = lambda k: float(re.findall(rf'fewshot/{k}: ([0-9.]+)', out)[-1])  # noqa: E731
    r = dict(acc=get('accuracy'), ci=get('ci95'), episodes=int(get('episodes')), test_s=time.time() - t0)
    if 'fewshot/pick_rate' in out:
        r.update(pick=get('pick_rate'), pseudo=get('pseudo_acc'))
    return r


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--shots', type=int, choices=[1, 5], default=1)
    p.add_argument('--methods', nargs='+', choices=METHODS, default=METHODS[:6])
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out-dir', default='work_dirs/fewshot_study')
    a = p.parse_args(argv)
    os.makedirs(a.out_dir, exist_ok=True)
    lines = [f'5-way {a.shots}-shot, meta-test on the 600 fixed test episodes of the generated source '
             f'(seed {a.seed}).', '',
             '| method | accuracy % ± 95 % CI | queries picked % | pseudo-label accuracy % | meta-train (s) | '
             'meta-test (s) |', '|---|---|---|---|---|---|']
    for m in a.methods:
        base, extra = VARIANTS.get(m, (m, []))
        cfg = f'configs/fewshot/{base}_conv4_synth-fewshot-5way-{a.shots}shot.py'
        wd = osp.join(a.out_dir, f'{m}_{a.shots}shot')
        _, t_train = train(cfg, wd, extra, seed=a.seed)
        r = meta_test(cfg, wd, extra)
        pick = f'{r["pick"]:.1f}' if 'pick' in r else '—'
        pseudo = f'{r["pseudo"]:.1f}' if 'pseudo' in r else '—'
        lines.append(f'| {NAMES[m]} | {r["acc"]:.2f} ± {r["ci"]:.2f} | {pick} | {pseudo} | {t_train:.0f} | '
                     f'{r["test_s"]:.0f} |')
        print(lines[-1], flush=True)
    name = f'{a.shots}shot' + ('' if a.methods == METHODS[:6] else '_' + '-'.join(a.methods))
    write_table(osp.join(a.out_dir, f'{name}.md'), lines)
    return 0


if __name__ == '__main__':
    sys.exit(main())
