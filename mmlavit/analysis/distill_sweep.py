"""The sweeps of ``tools/analysis_tools/distill_sweep.py``: why (or why not) CLKD and TRG beat KD on a real
source. Each point is a method with options on existing config keys, paired over seeds with KD trained at
the same shared settings (teacher, batch size, KD temperature); every run is one of the methods study's
(:mod:`mmlavit.analysis.distill`: same derived configs, same run folders)."""
import os.path as osp
from typing import Dict, List, Sequence, Tuple

from mmlavit.evaluation.stats import mean_std

from .distill import METHODS, fmt, fmt_paired, real_run, real_run_dir, summarise, teacher_run, teacher_spec

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
        cells.append(f'{ms.mean:.2f} ± {ms.std:.2f} (n = {len(accs)})' if key == 'val' else f'{ms.mean:.2f}')
        pairs = [s for s in seeds if s in runs and s in ref]
        if ref is runs or not pairs:
            cells.append('—')
            continue
        cells.append(fmt_paired({s: runs[s][key] for s in pairs}, {s: ref[s][key] for s in pairs}))
    return cells


def sweep(study, src: dict, root: str, student: str, epochs: int, seeds: Sequence[int], names: Sequence[str],
          teachers: Sequence[Tuple[str, int]] = ()) -> List[str]:
    """Run (or read back, with ``study.collect``) the sweeps ``names`` with ``study``; only the points of
    ``teachers`` when given. Returns the Markdown lines (``<data>_sweep.md``)."""
    all_teachers, points = plan(names)
    for t in teachers:
        if t not in all_teachers:
            raise ValueError(f'--teachers {t[0]}:{t[1]}: not a teacher of --sweeps {" ".join(names)} '
                             f'({all_teachers})')
    teachers = list(teachers) or all_teachers
    points = [p for p in points if p[1] in teachers]
    spec = {t: teacher_spec(root, *t) for t in teachers}
    write = not study.collect
    # the base teacher's runs first, complete seeds first; then the other teachers', cheapest first (a run
    # of a large teacher spends most of its time in the teacher's forward)
    order = sorted(teachers, key=lambda t: (t != BASE_TEACHER, teacher_cost(t[0])))
    runs = [teacher_run(src, spec[t], write) for t in order]
    runs += [real_run(METHODS[m], src, root, student, epochs, spec[t], s, o, write)
             for t in order for s in seeds for m, tt, o in points if tt == t]
    done = study.run(runs)

    def results(m, t, o) -> Dict[int, dict]:
        out = {}
        for s in seeds:
            r = summarise(done.get(real_run_dir(METHODS[m], root, student, epochs, spec[t], s, o)))
            if r is not None:
                out[s] = r
        return out

    lines = [f'Data: {osp.basename(root)}; student {student}, {epochs} epochs; seeds '
             f'{", ".join(map(str, seeds))}. Each point against KD trained with the same teacher, batch '
             'size and temperature (paired by seed: mean difference [95 % t-interval], seeds above / '
             'pairs). Choices are read on val; test is shown beside it.', '']
    missing = set()  # run folders: a point shown in several sweeps counts once
    for n in names:
        question, ts, sweep_points = SWEEPS[n]
        ts = [t for t in ts if t in teachers]
        if not ts:
            continue
        lines += [f'### {n}: {question}', '',
                  '| teacher (val / test) | method | setting | val top-1 % | val − KD | test top-1 % | '
                  'test − KD |', '|---|---|---|---|---|---|---|']
        for t in ts:
            tr = summarise(done.get(spec[t]['dir']))
            tcell = f'{t[0]} {t[1]}e ({fmt(tr and tr["val"])} / {fmt(tr and tr["test"])})'
            for m, o in sweep_points:
                mine = results(m, t, o)
                ref = mine if (m == 'KD' and kd_reference(o) == o) else results('KD', t, kd_reference(o))
                missing |= {real_run_dir(METHODS[m], root, student, epochs, spec[t], s, o) for s in seeds
                            if s not in mine}
                lines.append(f'| {tcell} | {m} | {describe(o)} | ' + ' | '.join(summary(mine, ref, seeds)) +
                             ' |')
        lines.append('')
    if missing:
        lines.append(f'{len(missing)} run(s) not finished (under {root}).')
    return lines
