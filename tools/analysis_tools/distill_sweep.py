# Copyright (c) mmlavit contributors.
"""Why do (or don't) CLKD and TRG beat KD on a real source? Sweeps within the papers' forms on the val split,
each point paired over seeds with KD trained at the same shared settings (teacher, batch size, KD
temperature), the test split reported beside it:

* ``teacher``: the teacher's capacity and training length (resnet8x0.5, resnet32 for 10 / 30 epochs,
  resnet32x4), CLKD and TRG against KD with the same teacher, and the teacher's own val / test top-1;
* ``clkd-terms``: CLKD without its class-level terms (β = 0: L_cla off; ν = 0: L_cc off; both: instance
  level only, which is a KD-like logit match) — where the class-level part earns its place;
* ``clkd-paper``: CLKD in the paper's literal form (at chance on this source) and the same without L_cc;
* ``batch``: the training batch size (32 / 64 / 256, same learning rate) for KD and CLKD: CLKD's class-level
  terms are computed over the batch;
* ``temperature``: KD's T (2 / 4) for KD and TRG (+KD), which carries the same KD term;
* ``clkd-weight``, ``clkd-warmup``: CLKD's overall weight w (1 / 4) and its warm-up (none / the first 1/12);
* ``trg-weights``, ``trg-tokens``: TRG's graph-loss weights α = β = γ (1 / 4) and its tokens (2×2 patches:
  4 per image; each position: 16 per image).

One alternative per setting: each point costs three seeds of CPU time, and the runs of the large teacher
(resnet32x4) go last because its forward dominates them.

    python tools/analysis_tools/distill_sweep.py --data font-glyphs100 --seeds 0 1 2 --jobs 2
    python tools/analysis_tools/distill_sweep.py --data font-glyphs100 --seeds 0 1 2 --collect

Each run is one of ``distill_study.py``'s (same derived configs, same run folders, read back when they
finished with the same config), with the sweep's options set on existing config keys only. ``--jobs N``
trains N runs at once, each with ``cpu_count / N`` threads (tests run one at a time in this process).
Writes ``<out-dir>/<data>_sweep.md``.
"""
import argparse
import os
import os.path as osp
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Sequence, Tuple

from distill_study import (METHODS, REAL, ensure_teacher, fmt, held, read_run, real_config, real_run_dir,
                           t_interval, teacher_spec, test_top1)

from experiments import mean_std, train, write_table

BASE_TEACHER = ('resnet32', 30)
KD_T = 'model.losses.loss_kd.temperature'
BATCH = 'train_dataloader.batch_size'
CLKD = 'model.losses.loss_clkd.'
TRG = 'model.losses.loss_trg.'
# name: (question, teachers, [(method, options), ...]); the base point (no options, resnet32 for 30 epochs)
# is listed where a sweep shows it, and trained once for all.
SWEEPS = {
    'teacher': ('teacher capacity and training length',
                [('resnet8x0.5', 30), ('resnet32', 10), ('resnet32', 30), ('resnet32x4', 30)],
                [('KD', {}), ('CLKD', {}), ('TRG (+KD)', {})]),
    'clkd-terms': ('CLKD\'s class-level terms (β: L_cla, ν: L_cc)', [BASE_TEACHER],
                   [('CLKD', {}), ('CLKD', {CLKD + 'beta': 0.0}), ('CLKD', {CLKD + 'nu': 0.0}),
                    ('CLKD', {CLKD + 'beta': 0.0, CLKD + 'nu': 0.0})]),
    'clkd-paper': ('the paper\'s literal CLKD form, and without its raw-logit L_cc', [BASE_TEACHER],
                   [("CLKD (paper's)", {}), ("CLKD (paper's)", {CLKD + 'nu': 0.0})]),
    'batch': ('the batch size (CLKD\'s class-level terms are over the batch)', [BASE_TEACHER],
              [(m, o) for o in ({BATCH: 32}, {}, {BATCH: 256}) for m in ('KD', 'CLKD')]),
    'temperature': ('KD\'s temperature (also TRG\'s KD term)', [BASE_TEACHER],
                    [(m, o) for o in ({KD_T: 2.0}, {}) for m in ('KD', 'TRG (+KD)')]),
    'clkd-weight': ('CLKD\'s weight w', [BASE_TEACHER],
                    [('CLKD', {CLKD + 'loss_weight': 1.0}), ('CLKD', {})]),
    'clkd-warmup': ('CLKD\'s warm-up (fraction of training)', [BASE_TEACHER],
                    [('CLKD', {CLKD + 'warmup': 0.0}), ('CLKD', {})]),
    'trg-weights': ('TRG\'s graph weights α = β = γ', [BASE_TEACHER],
                    [('TRG (+KD)', {TRG + k: 1.0 for k in ('alpha', 'beta', 'gamma')}), ('TRG (+KD)', {})]),
    'trg-tokens': ('TRG\'s tokens (patch size on the 4×4 map)', [BASE_TEACHER],
                   [('TRG (+KD)', {}), ('TRG (+KD)', {TRG + 'patch_size': 1})]),
}
SHARED = (KD_T, BATCH)  # options that KD has too: the reference KD run is trained with them


def teacher_cost(arch: str) -> int:
    """Multiply-adds of a CifarResNet arch per pixel, up to a constant (depth × Σ width²)."""
    from mmlavit.models.backbones.cifar_resnet import CifarResNet
    depth, widths = CifarResNet.arch_zoo[arch]
    return depth * sum(w * w for w in widths)


def kd_reference(options: Dict[str, object]) -> Dict[str, object]:
    """The options of the KD run a point is paired with: the point's options that KD's config has."""
    return {k: v for k, v in options.items() if k in SHARED}


def plan(names: Sequence[str]) -> Tuple[List[Tuple[str, int]], List[Tuple[str, Tuple[str, int], dict]]]:
    """Teachers, and the (method, teacher, options) runs of sweeps ``names`` with their KD references, each
    once, in sweep order."""
    teachers, runs = [], []
    for n in names:
        _, ts, points = SWEEPS[n]
        for t in ts:
            if t not in teachers:
                teachers.append(t)
            for m, o in points:
                for r in ((m, t, o), ('KD', t, kd_reference(o))):
                    if r not in runs:
                        runs.append(r)
    return teachers, runs


def describe(options: Dict[str, object]) -> str:
    if not options:
        return 'as shipped'
    return ', '.join(f'{k.split(".")[-1]} {v:g}' if isinstance(v, float) else f'{k.split(".")[-1]} {v}'
                     for k, v in sorted(options.items()))


def summary(runs: Dict[int, dict], ref: Dict[int, dict], seeds: Sequence[int]) -> List[str]:
    """Table cells: val mean ± std, val − KD (mean [95 %], seeds above), test mean, test − KD."""
    cells = []
    for key in ('val', 'test'):
        accs = [runs[s][key] for s in seeds if s in runs]
        if not accs:
            return ['not run', '', '', '']
        ms = mean_std(accs)
        cells.append(f'{ms["mean"]:.2f} ± {ms["std"]:.2f} (n = {len(accs)})' if key == 'val'
                     else f'{ms["mean"]:.2f}')
        pairs = [s for s in seeds if s in runs and s in ref]
        if ref is runs or not pairs:
            cells.append('—')
            continue
        d = t_interval([runs[s][key] - ref[s][key] for s in pairs])
        ci = f' [{d["lo"]:+.2f}, {d["hi"]:+.2f}]' if d['n'] > 1 else ''
        cells.append(f'{d["mean"]:+.2f}{ci}, {d["above"]}/{d["n"]}')
    return cells


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', choices=sorted(REAL), default='font-glyphs100')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--sweeps', nargs='+', choices=list(SWEEPS), default=list(SWEEPS))
    p.add_argument('--out-dir', default='work_dirs/distill_study')
    p.add_argument('--student-arch', help="default: the source's")
    p.add_argument('--epochs', type=int, default=30, help="the students' epochs")
    p.add_argument('--jobs', type=int, default=1, help='runs trained at once (default: 1)')
    p.add_argument('--lock', help='hold an flock on this file during each run only (shared machines)')
    p.add_argument('--collect', action='store_true', help='train nothing: read back the finished runs')
    p.add_argument('--teachers', nargs='+', metavar='ARCH:EPOCHS',
                   help='only the points of these teachers (e.g. resnet32x4:30; default: every teacher)')
    a = p.parse_args(argv)
    src = REAL[a.data]
    if not a.collect and not osp.isdir(osp.join(src['data_root'], 'test')):
        raise SystemExit(f'{a.data}: {src["data_root"]}/{{train,val,test}} not found; make it with\n  '
                         f'{src["data_command"]}')
    st, epochs = a.student_arch or src['student'], a.epochs
    root = osp.join(a.out_dir, a.data)
    teachers, runs = plan(a.sweeps)
    if a.teachers:
        keep = []
        for t in a.teachers:
            arch, _, ep = t.partition(':')
            if (arch, int(ep or 30)) not in teachers:
                p.error(f'--teachers {t}: not a teacher of --sweeps {" ".join(a.sweeps)} ({teachers})')
            keep.append((arch, int(ep or 30)))
        teachers, runs = keep, [r for r in runs if r[1] in keep]
    spec = {t: teacher_spec(root, *t) for t in teachers}
    if a.jobs > 1 and 'OMP_NUM_THREADS' not in os.environ:  # the training subprocesses share the cores
        os.environ['OMP_NUM_THREADS'] = str(max(1, (os.cpu_count() or 1) // a.jobs))
    failed: List[str] = []

    def one(job):
        kind, *rest = job
        if kind == 'teacher':  # configs load and tests run under experiments.CONFIG_LOCK, a thread at a time
            ensure_teacher(src, spec[rest[0]], a.lock)
            return
        (m, t, o), s = rest
        try:
            trained[t].result()  # submitted first, so already running: this waits, it cannot deadlock
            train_and_test(m, t, o, s)
        except Exception as e:  # noqa: BLE001 — report it, go on with the other runs
            failed.append(f'{m} ({spec[t]["name"]}, {describe(o)}) seed {s}: {type(e).__name__}: {e}')
            print('FAILED: ' + failed[-1], flush=True)

    def train_and_test(m, t, o, s):
        cfg = real_config(METHODS[m], src, root, st, epochs, spec[t], o)
        run = real_run_dir(METHODS[m], root, st, epochs, spec[t], s, o)
        with held(a.lock):
            train(cfg, run, seed=s, reuse=True)
        test_top1(cfg, run, epochs)
        r = read_run(run, has_test=True)
        print(f'{m} ({spec[t]["name"]}, {describe(o)}) seed {s}: val {fmt(r["val"])} test {fmt(r["test"])}',
              flush=True)

    if not a.collect:
        with ThreadPoolExecutor(max(1, a.jobs)) as pool:
            trained = {t: pool.submit(one, ('teacher', t)) for t in teachers}  # waited on by their runs
            # the base teacher's runs first, complete seeds first; then the other teachers', cheapest first
            # (a run of a large teacher spends most of its time in the teacher's forward)
            order = sorted(teachers, key=lambda t: (t != BASE_TEACHER, teacher_cost(t[0])))
            jobs = [('run', r, s) for t in order for s in a.seeds for r in runs if r[1] == t]
            for f in [pool.submit(one, j) for j in jobs] + list(trained.values()):
                f.result()

    def results(m, t, o) -> Dict[int, dict]:
        out = {}
        for s in a.seeds:
            r = read_run(real_run_dir(METHODS[m], root, st, epochs, spec[t], s, o), has_test=True)
            if r is not None:
                out[s] = r
        return out

    seeds = ', '.join(map(str, a.seeds))
    lines = [f'Data: {a.data}; student {st}, {epochs} epochs; seeds {seeds}. Each point '
             'against KD trained with the same teacher, batch size and temperature (paired by seed: mean '
             'difference [95 % t-interval], seeds above / pairs). Choices are read on val; test is shown '
             'beside it.', '']
    missing = set()  # run folders: a point shown in several sweeps counts once
    for n in a.sweeps:
        question, ts, points = SWEEPS[n]
        ts = [t for t in ts if t in teachers]
        if not ts:
            continue
        lines += [f'### {n}: {question}', '',
                  '| teacher (val / test) | method | setting | val top-1 % | val − KD | test top-1 % | '
                  'test − KD |', '|---|---|---|---|---|---|---|']
        for t in ts:
            tr = read_run(spec[t]['dir'], has_test=True)
            tcell = f'{t[0]} {t[1]}e ({fmt(tr and tr["val"])} / {fmt(tr and tr["test"])})'
            for m, o in points:
                mine = results(m, t, o)
                ref = mine if (m == 'KD' and kd_reference(o) == o) else results('KD', t, kd_reference(o))
                missing |= {real_run_dir(METHODS[m], root, st, epochs, spec[t], s, o) for s in a.seeds
                            if s not in mine}
                lines.append(f'| {tcell} | {m} | {describe(o)} | ' + ' | '.join(summary(mine, ref, a.seeds)) +
                             ' |')
        lines.append('')
    if missing:
        lines.append(f'{len(missing)} run(s) not finished (under {root}).')
    write_table(osp.join(a.out_dir, f'{a.data}_sweep.md'), lines)
    if failed:
        print(f'{len(failed)} run(s) failed:\n  ' + '\n  '.join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
