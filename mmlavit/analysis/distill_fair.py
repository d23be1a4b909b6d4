"""The fair protocol of ``distill_study.py --protocol fair``: KD, DKD, CLKD and TRG (+KD) with the same tuning
budget on val, in two arms.

* **published**: each method's config as shipped (its paper's or mdistiller's recipe where one exists, ours
  where the config says so), one setting each; the student alone and CLKD's re-implementations' form
  ("CLKD (paper's)", configs/distill/clkd/clkd-reimpl_*) beside them.
* **parity**: each method tried at every point of its grid in :data:`PARITY` — the CE weight
  (``student_loss_weight``) at the same values for every method, the method's loss weight, and one knob of
  its own (the temperature of KD, DKD and TRG's KD term; CLKD's ``logit_scale``: the paper's 1, or ours
  against the 1/‖z‖ fade of its normalised rows) — the same number of settings for every method
  (:func:`check_budget`), KD's temperature and weights included. The setting with the best mean val top-1
  over the tuning seeds is chosen; its test top-1 is reported over the seeds, paired by seed with the tuned
  KD's (mean difference, 95 % t-interval, seeds above).

Val is used for choosing, test only reported. Every run is one of the methods study's
(:mod:`mmlavit.analysis.distill`: same derived configs, same run folders)."""
import itertools
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from mmlavit.evaluation.stats import mean_std

from .distill import METHODS, fmt, fmt_paired, real_run, real_run_dir, summarise, teacher_run, teacher_spec
from .distill_sweep import describe

CE = 'model.student_loss_weight'
LOSSES = 'model.losses.'
KD_T = LOSSES + 'loss_kd.temperature'


def axis(keys, *values) -> tuple:
    """One axis of a parity grid: each of ``values`` set on every key of ``keys`` (a key or a tuple of keys
    that move together), as option dicts."""
    keys = (keys,) if isinstance(keys, str) else keys
    return tuple({k: v for k in keys} for v in values)


CE_AXIS = axis(CE, 0.1, 1.0)  # mdistiller's KD recipe, and the CE + distillation form of DKD and CLKD
DKD = LOSSES + 'loss_dkd.'
# method: [axis, ...], each axis a tuple of option dicts; the grid is their product. Each axis lists the
# shipped value first (the CE weight excepted: the same values for every method). DKD's configs carry no
# loss_weight: its loss weight scales α and β (TCKD and NCKD) together.
PARITY = {
    'KD': [CE_AXIS, axis(LOSSES + 'loss_kd.loss_weight', 0.9, 3.6), axis(KD_T, 4.0, 2.0)],
    'DKD': [CE_AXIS, ({DKD + 'alpha': 1.0, DKD + 'beta': 8.0}, {DKD + 'alpha': 4.0, DKD + 'beta': 32.0}),
            axis(DKD + 'temperature', 4.0, 2.0)],
    'CLKD': [CE_AXIS, axis(LOSSES + 'loss_clkd.loss_weight', 4.0, 1.0),
             axis(LOSSES + 'loss_clkd.logit_scale', 1.0, 'student_norm')],
    'TRG (+KD)': [CE_AXIS, axis(tuple(LOSSES + 'loss_trg.' + k for k in ('alpha', 'beta', 'gamma')),
                                4.0, 1.0), axis(KD_T, 4.0, 2.0)],
}
PUBLISHED = ('student alone', 'KD', 'DKD', 'CLKD', "CLKD (paper's)", 'TRG (+KD)')
REFERENCE = 'KD'


def parity_points(method: str, grid: Optional[dict] = None) -> List[Dict[str, float]]:
    """Every setting of ``method``'s parity grid as options (``{config key: value}``), in grid order."""
    points = []
    for values in itertools.product(*(grid or PARITY)[method]):
        points.append({k: v for options in values for k, v in options.items()})
    return points


def check_budget(grid: Optional[dict] = None) -> int:
    """The number of settings each method of ``grid`` tries; raises when the methods' budgets differ or the
    CE weight does not take the same values for every method."""
    grid = grid or PARITY
    sizes = {m: len(parity_points(m, grid)) for m in grid}
    if len(set(sizes.values())) != 1:
        raise ValueError(f'parity grid: every method must try the same number of settings, got {sizes}')
    ce = {m: sorted({p.get(CE) for p in parity_points(m, grid)}, key=repr) for m in grid}
    if len({repr(v) for v in ce.values()}) != 1:
        raise ValueError(f'parity grid: the CE weight ({CE}) must take the same values for every method, got '
                         f'{ce}')
    return next(iter(sizes.values()))


def choose(val: Dict[int, Dict[int, float]], n_points: int, seeds: Sequence[int]) -> Optional[int]:
    """The index of the point with the best mean val top-1 over ``seeds`` (``val[point][seed]``); the first
    in grid order on a tie. None until every point finished every seed."""
    if any(s not in val.get(i, {}) for i in range(n_points) for s in seeds):
        return None
    means = [sum(val[i][s] for s in seeds) / len(seeds) for i in range(n_points)]
    return max(range(n_points), key=lambda i: (means[i], -i))


def _cells(runs: Dict[int, dict], seeds: Sequence[int]) -> Tuple[str, str]:
    accs = [runs[s]['test'] for s in seeds if s in runs]
    if not accs:
        return 'not run', ''
    ms = mean_std(accs)
    return (f'{ms.mean:.2f} ± {ms.std:.2f} (n = {len(accs)})',
            ', '.join(fmt(runs[s]['test'], 1) if s in runs else '–' for s in seeds))


def fair_study(study, data: str, src: dict, root: str, student: str, epochs: int, seeds: Sequence[int],
               tune_seeds: Sequence[int], teacher_arch: str = 'resnet32', teacher_epochs: int = 30,
               methods: Optional[Sequence[str]] = None, grid: Optional[dict] = None) -> List[str]:
    """Run (or read back, with ``study.collect``) both arms with ``study``; returns the Markdown lines
    (``<data>_fair.md``). Tuning runs use ``tune_seeds``; the chosen settings then run on ``seeds``.
    ``methods``: a subset of the grid's methods (KD, the reference, always included)."""
    grid = grid or PARITY
    if methods:
        unknown = sorted(set(methods) - set(grid))
        if unknown:
            raise ValueError(f'--methods {unknown}: the fair protocol compares {list(grid)}')
        grid = {m: axes for m, axes in grid.items() if m in methods or m == REFERENCE}
    budget = check_budget(grid)
    published = [m for m in PUBLISHED if not methods or m in grid]
    teacher = teacher_spec(root, teacher_arch, teacher_epochs)
    write = not study.collect

    def run(name, seed, options=None):
        return real_run(METHODS[name], src, root, student, epochs, teacher, seed, options, write)

    points = {m: parity_points(m, grid) for m in grid}
    first = [teacher_run(src, teacher, write)]
    first += [run(m, s) for s in seeds for m in published]
    tuning = {(m, i, s): run(m, s, p) for s in tune_seeds for m in grid for i, p in enumerate(points[m])}
    done = study.run(first + list(tuning.values()))

    val: Dict[str, Dict[int, Dict[int, float]]] = {m: {} for m in grid}
    for (m, i, s), r in tuning.items():
        res = summarise(done[r.work_dir])
        if res is not None:
            val[m].setdefault(i, {})[s] = res['val']
    chosen = {m: choose(val[m], budget, tune_seeds) for m in grid}
    final = {(m, s): run(m, s, points[m][i]) for m, i in chosen.items() if i is not None for s in seeds}
    done.update(study.run(first[:1] + [r for r in final.values() if r.work_dir not in done]))  # teacher first

    published = {m: {} for m in published}
    for m in published:
        for s in seeds:
            res = summarise(done[real_run_dir(METHODS[m], root, student, epochs, teacher, s)])
            if res is not None:
                published[m][s] = res
    tuned = {m: {} for m in grid}
    for (m, s), r in final.items():
        res = summarise(done.get(r.work_dir))
        if res is not None:
            tuned[m][s] = res
    t = summarise(done[teacher['dir']])
    tune = ', '.join(map(str, tune_seeds))
    lines = [f'Data: {data}; teacher {teacher_arch}, {teacher_epochs} epochs, seed 0 (test '
             f'{fmt(t and t["test"])} %, val {fmt(t and t["val"])} %); student {student}, {epochs} epochs; '
             f'seeds {", ".join(map(str, seeds))}. Parity arm: {budget} settings per method tried on val '
             f'(seeds {tune}), the best mean val top-1 chosen, test reported; differences are paired by seed '
             '(mean [95 % t-interval], seeds above / pairs).', '',
             '### Published recipes (as shipped, one setting each)', '',
             '| method | test top-1 % (mean ± std) | per seed | val top-1 % (mean) | test − KD |',
             '|---|---|---|---|---|']
    for m, runs in published.items():
        mean, per = _cells(runs, seeds)
        vals = [runs[s]['val'] for s in seeds if s in runs]
        ref = published[REFERENCE]
        pairs = [s for s in seeds if s in runs and s in ref]
        diff = ('—' if m == REFERENCE or not pairs else
                fmt_paired({s: runs[s]['test'] for s in pairs}, {s: ref[s]['test'] for s in pairs}))
        lines.append(f'| {m} | {mean} | {per} | {fmt(sum(vals) / len(vals) if vals else None)} | {diff} |')
    lines += ['', f'### Parity arm: CE weight and loss weight tuned on val ({budget} settings each)', '',
              '| method | chosen setting | val top-1 % (tuning seeds) | test top-1 % (mean ± std) | '
              'per seed | test − tuned KD |', '|---|---|---|---|---|---|']
    for m in grid:
        i = chosen[m]
        if i is None:
            n_done = sum(all(s in val[m].get(j, {}) for s in tune_seeds) for j in range(budget))
            lines.append(f'| {m} | tuning not finished ({n_done} of {budget} settings) | | | | |')
            continue
        mean, per = _cells(tuned[m], seeds)
        ref = tuned[REFERENCE]
        pairs = [s for s in seeds if s in tuned[m] and s in ref]
        diff = ('—' if m == REFERENCE or not pairs else
                fmt_paired({s: tuned[m][s]['test'] for s in pairs}, {s: ref[s]['test'] for s in pairs}))
        vmean = sum(val[m][i][s] for s in tune_seeds) / len(tune_seeds)
        lines.append(f'| {m} | {describe(points[m][i])} | {vmean:.2f} | {mean} | {per} | {diff} |')
    lines += ['', '### Every setting tried (val top-1 %, mean ± std over the tuning seeds)', '',
              '| method | setting | val top-1 % |', '|---|---|---|']
    for m in grid:
        for i, p in enumerate(points[m]):
            vs = [val[m].get(i, {})[s] for s in tune_seeds if s in val[m].get(i, {})]
            ms = mean_std(vs) if vs else None
            cell = 'not run' if ms is None else f'{ms.mean:.2f} ± {ms.std:.2f} (n = {ms.n})'
            mark = ' (chosen)' if chosen[m] == i else ''
            lines.append(f'| {m} | {describe(p)}{mark} | {cell} |')
    missing = sorted({r.work_dir for r in first + list(tuning.values()) + list(final.values())
                      if done.get(r.work_dir) is None})
    if missing:
        lines += ['', f'{len(missing)} run(s) not finished (under {root}): ' +
                  ', '.join(osp.relpath(w, root) for w in missing[:20]) +
                  (' ...' if len(missing) > 20 else '')]
    return lines
