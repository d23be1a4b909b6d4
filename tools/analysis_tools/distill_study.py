# Copyright (c) mmlavit contributors.
"""The small distillation study: a teacher, then a small student alone and with KD, DKD, CLKD (ours and the
paper's literal form) and TRG (+KD), over several seeds (same seeds, same data order for every method); top-1
as mean ± std, the per-seed numbers, and each method's paired difference from KD and from the student alone
(mean over seeds with its 95 % t-interval).

    python tools/analysis_tools/distill_study.py --data synth-cls100 --seeds 0 1 2 3 4      # student resnet8
    python tools/analysis_tools/distill_study.py --data digits --seeds 0 1 2 3 4 5 6 7 8 9  # resnet8x0.5
    python tools/analysis_tools/distill_study.py --data font-glyphs100 --seeds 0 1 2 3 4    # real glyphs
    python tools/analysis_tools/distill_study.py --data font-glyphs100 --seeds 0 1 2 3 4 --collect

Needs the data (``data_command`` below and in configs/distill/_base_/datasets/). ``synth-cls100`` and
``digits`` train the leaf configs ``configs/distill/<method>/<method>_resnet32-<student>_<data>.py``
(teacher: configs/distill/baselines/resnet32_<data>.py, seed 0, unless its checkpoint exists) and report the
val split (they have no other). ``font-glyphs100`` (100 characters drawn by ~800 installed fonts, split by
font family: tools/dataset_converters/font_glyphs.py) has train / val / test splits: its configs are the
digits leaf configs (16 px, the same method settings) with the data, the class count, the teacher and the
student archs changed in memory and written to ``<out-dir>/<data>/configs/``; every run is evaluated on val
(for choices: ``--teacher-arch``, ``--teacher-epochs``, ``--student-arch``) and on test (the table).

``--collect`` reads back the runs that finished (their ``run.json``) and writes the table without training
anything; a missing run is listed. ``--lock FILE`` holds an flock on FILE during each run (train + test)
only, so that other jobs on a shared machine can interleave. Writes ``<out-dir>/<data>[_...].md``.
"""
import argparse
import contextlib
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

from experiments import CONFIG_LOCK, last, mean_std, read_scalars, repo_path, train, write_table

STUDENTS = {'synth-cls100': 'resnet8', 'digits': 'resnet8x0.5'}
# Sources with train/val/test class folders whose configs are derived from the digits leaf configs.
REAL = {
    'font-glyphs100': dict(
        data_root='data/font_glyphs100', num_classes=100, student='resnet8x0.25',  # chosen on val
        data_command='python tools/dataset_converters/font_glyphs.py data/font_glyphs100 '
                     '--max-train-fonts 30 --max-val-fonts 40 --max-test-fonts 100'),
}
DERIVE_FROM = 'digits'
# name: (folder, config prefix) under configs/distill/
METHODS = {'student alone': None, 'KD': ('kd', 'kd'), 'DKD': ('dkd', 'dkd'), 'CLKD': ('clkd', 'clkd'),
           "CLKD (paper's)": ('clkd', 'clkd-paper'), 'TRG (+KD)': ('trg', 'trg')}


def t_interval(diffs: Sequence[float], level: float = 0.95) -> Dict[str, float]:
    """Mean of paired differences and its two-sided ``level`` Student-t interval (n - 1 degrees of freedom);
    the interval is (nan, nan) for a single pair."""
    import math
    import statistics
    n = len(diffs)
    m = statistics.mean(diffs)
    if n < 2:
        return dict(mean=m, lo=float('nan'), hi=float('nan'), n=n, above=sum(d > 0 for d in diffs))
    from scipy import stats
    half = stats.t.ppf(0.5 + level / 2, n - 1) * statistics.stdev(diffs) / math.sqrt(n)
    return dict(mean=m, lo=m - half, hi=m + half, n=n, above=sum(d > 0 for d in diffs))


@contextlib.contextmanager
def held(lock: Optional[str]):
    """An exclusive flock on ``lock`` (a file path) for the duration, or nothing when ``lock`` is None."""
    if not lock:
        yield
        return
    import fcntl
    with open(lock, 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def arch_width(arch: str) -> int:
    """Channels of the last stage of a CifarResNet arch (the head's ``in_channels``, TRG's token dim)."""
    from mmlavit.models.backbones.cifar_resnet import CifarResNet
    if arch not in CifarResNet.arch_zoo:
        raise SystemExit(f'--teacher-arch/--student-arch: {arch!r} is not one of '
                         f'{sorted(CifarResNet.arch_zoo)}')
    return CifarResNet.arch_zoo[arch][1][-1]


def set_epochs(cfg, epochs: int) -> None:
    """The small schedule (configs/distill/_base_/schedules/small_30e.py) over ``epochs`` instead."""
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = epochs
    cfg.param_scheduler[-1]['end'] = epochs
    cfg.default_hooks.checkpoint.interval = epochs


def apply_options(cfg, options: Dict[str, object], where: str) -> None:
    """Set ``options`` (``{'model.losses.loss_kd.temperature': 2.0, ...}``) on ``cfg``. Unlike
    ``--cfg-options``, a key that the config does not have is an error (naming ``where``), not a new key."""
    for key, value in options.items():
        node, parts = cfg, key.split('.')
        for i, part in enumerate(parts):
            is_map = hasattr(node, 'keys')  # a dict, ConfigDict or Config
            if not is_map or part not in node:
                have = sorted(node.keys()) if is_map else type(node).__name__
                raise KeyError(f'{where}: option {key}: {".".join(parts[:i + 1])!r} is not in the config '
                               f'(there: {have}); options only change existing keys')
            if i < len(parts) - 1:
                node = node[part]
        node[parts[-1]] = value


def options_slug(options: Dict[str, object]) -> str:
    """A file-name-safe tag of ``options``: ``'loss_clkd.beta=0.0,loss_clkd.nu=0.0'`` (last two key parts),
    ``''`` for none."""
    tags = [f'{".".join(k.split(".")[-2:])}={v}' for k, v in sorted(options.items())]
    return ''.join(c if c.isalnum() or c in '._=,-' else '_' for c in ','.join(tags))


def derive_config(leaf: str, out: str, src: dict, student_arch: str, epochs: Optional[int] = None,
                  teacher: Optional[dict] = None, options: Optional[Dict[str, object]] = None) -> str:
    """``leaf`` (a digits config) on the source ``src``: data root (train / val / test splits), class count,
    the classifier's (or the distiller's student's) arch, and for a distiller the teacher (``config``,
    ``checkpoint``, ``arch``; TRG's token dims follow the archs); then ``options`` (existing keys only,
    :func:`apply_options`). Written to ``out``; returns ``out``. Safe from several threads."""
    with CONFIG_LOCK:
        return _derive_config(leaf, out, src, student_arch, epochs, teacher, options)


def _derive_config(leaf, out, src, student_arch, epochs, teacher, options) -> str:
    import warnings

    from mmengine.config import Config
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        cfg = Config.fromfile(repo_path(leaf))
    for split in ('train', 'val', 'test'):
        loader = f'{split}_dataloader'
        cfg[loader].dataset.data_root = src['data_root']
        cfg[loader].dataset.data_prefix = split
        cfg[loader].num_workers = 1  # 16 px images: one loader process is enough and leaves a core free
    if 'data_preprocessor' in cfg:
        cfg.data_preprocessor.num_classes = src['num_classes']
    model = cfg.model.student if cfg.model.type == 'SingleTeacherDistiller' else cfg.model
    model.backbone.arch = student_arch
    model.head.num_classes = src['num_classes']
    model.head.in_channels = arch_width(student_arch)
    if cfg.model.type == 'SingleTeacherDistiller':
        cfg.model.teacher.config = teacher['config']
        cfg.model.teacher.checkpoint = teacher['checkpoint']
        trg = cfg.model.losses.get('loss_trg')
        if trg is not None:
            trg.student_dim = arch_width(student_arch)
            trg.teacher_dim = arch_width(teacher['arch'])
    if epochs:
        set_epochs(cfg, epochs)
    if options:
        apply_options(cfg, options, f'{leaf} (for {out})')
    os.makedirs(osp.dirname(out), exist_ok=True)
    cfg.dump(out)
    return out


def test_top1(config: str, run: str, epochs: int) -> float:
    """Top-1 % of the run's last checkpoint on the config's test split, evaluated once and kept in
    ``<run>/test_metrics.json`` (read back while it is newer than the run's ``run.json``). One thread at a
    time: the Runner runs in this process."""
    with CONFIG_LOCK:
        return _test_top1(config, run, epochs)


def _test_top1(config: str, run: str, epochs: int) -> float:
    out = osp.join(run, 'test_metrics.json')
    marker = osp.join(run, 'run.json')
    if osp.isfile(out) and osp.getmtime(out) >= osp.getmtime(marker):
        with open(out) as f:
            return json.load(f)['accuracy/top1']
    import warnings

    from mmengine.config import Config
    from mmengine.runner import Runner
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        cfg = Config.fromfile(config)
    cfg.work_dir = osp.join(run, 'test')
    cfg.load_from = osp.join(run, f'epoch_{epochs}.pth')
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    cfg.randomness = dict(seed=0)
    metrics = Runner.from_cfg(cfg).test()
    with open(out, 'w') as f:
        json.dump({k: float(v) for k, v in metrics.items()}, f)
    return float(metrics['accuracy/top1'])


def finished(run: str) -> bool:
    return osp.isfile(osp.join(run, 'run.json'))


def read_run(run: str, has_test: bool) -> Optional[dict]:
    """What a finished run measured: val top-1 (the last logged), test top-1 (or None), wall seconds; None
    for a run that has not finished."""
    if not finished(run):
        return None
    with open(osp.join(run, 'run.json')) as f:
        seconds = json.load(f).get('seconds')
    test = None
    if has_test:
        p = osp.join(run, 'test_metrics.json')
        if not osp.isfile(p):
            return None
        with open(p) as f:
            test = json.load(f)['accuracy/top1']
    return dict(val=last(read_scalars(run), 'accuracy/top1'), test=test, seconds=seconds,
                loss=last(read_scalars(run), 'loss'))


def fmt(x: Optional[float], nd: int = 2) -> str:
    return '–' if x is None else f'{x:.{nd}f}'


def table(results: Dict[str, Dict[int, dict]], seeds: Sequence[int], key: str, header: str) -> List[str]:
    """Markdown lines: per method mean ± std, per-seed numbers; then the paired differences from KD and from
    the student alone over the seeds both have."""
    lines = [f'| {header} | top-1 % (mean ± std) | per seed ({", ".join(map(str, seeds))}) | '
             'val top-1 % (mean) | train time / run (s) |', '|---|---|---|---|---|']
    for name, runs in results.items():
        accs = [runs[s][key] for s in seeds if runs.get(s)]
        if not accs:
            lines.append(f'| {name} | not run | | | |')
            continue
        ms = mean_std(accs)
        per_seed = ', '.join(fmt(runs[s][key], 1) if runs.get(s) else '–' for s in seeds)
        vals = [runs[s]['val'] for s in seeds if runs.get(s)]
        secs = [runs[s]['seconds'] for s in seeds if runs.get(s) and runs[s]['seconds']]
        lines.append(f'| {name} | {ms["mean"]:.2f} ± {ms["std"]:.2f} (n = {len(accs)}) | {per_seed} | '
                     f'{sum(vals) / len(vals):.2f} | {fmt(sum(secs) / len(secs) if secs else None, 0)} |')
    for ref in ('KD', 'student alone'):
        if ref not in results:
            continue
        lines += ['', f'Paired differences from {ref} (each run minus {ref}\'s run with the same seed; '
                      'mean, 95 % t-interval, seeds above):', '',
                  '| method | mean difference | 95 % interval | seeds above / pairs |', '|---|---|---|---|']
        for name, runs in results.items():
            if name == ref:
                continue
            pairs = [s for s in seeds if runs.get(s) and results[ref].get(s)]
            if not pairs:
                continue
            d = t_interval([runs[s][key] - results[ref][s][key] for s in pairs])
            ci = f'[{d["lo"]:+.2f}, {d["hi"]:+.2f}]' if d['n'] > 1 else '– (one pair)'
            lines.append(f'| {name} − {ref} | {d["mean"]:+.2f} | {ci} | {d["above"]} / {d["n"]} |')
    return lines


def teacher_spec(root: str, arch: str, epochs: int) -> dict:
    """Where the study's teacher ``arch`` trained for ``epochs`` lives under ``root`` (``<out>/<data>``)."""
    name = f'teacher_{arch}_e{epochs}'
    cfg = osp.join(root, 'configs', f'{name}.py')
    d = osp.join(root, name)
    return dict(name=name, arch=arch, epochs=epochs, dir=d, config=cfg,
                checkpoint=osp.join(d, f'epoch_{epochs}.pth'))


def ensure_teacher(src: dict, teacher: dict, lock: Optional[str] = None, retrain: bool = False) -> None:
    """Derive, train (seed 0) and test the teacher unless that run finished with the same config."""
    derive_config(f'configs/distill/baselines/resnet32_{DERIVE_FROM}.py', teacher['config'], src,
                  teacher['arch'], teacher['epochs'])
    with held(lock):
        if not finished(teacher['dir']):
            print(f'training the teacher: {teacher["config"]}', flush=True)
        train(teacher['config'], teacher['dir'], seed=0, reuse=not retrain)
        test_top1(teacher['config'], teacher['dir'], teacher['epochs'])


def _sub(student: str, epochs: int, teacher: Optional[dict], options: Optional[dict]) -> str:
    base = f'{student}_e{epochs}' if teacher is None else f'{teacher["name"]}-{student}_e{epochs}'
    slug = options_slug(options or {})
    return base + (f'_{slug}' if slug else '')


def real_config(m, src: dict, root: str, student: str, epochs: int, teacher: dict,
                options: Optional[dict] = None, write: bool = True) -> str:
    """The derived config of method ``m`` (a ``METHODS`` value; None: the student alone) under
    ``<root>/configs/``; written unless ``write`` is False."""
    leaf = (f'configs/distill/baselines/resnet8x0.5_{DERIVE_FROM}.py' if m is None else
            f'configs/distill/{m[0]}/{m[1]}_resnet32-resnet8x0.5_{DERIVE_FROM}.py')
    sub = _sub(student, epochs, None if m is None else teacher, options)
    out = osp.join(root, 'configs', (f'{sub}.py' if m is None else f'{m[1]}_{sub}.py'))
    if not write:
        return out
    return derive_config(leaf, out, src, student, epochs, None if m is None else teacher, options)


def real_run_dir(m, root: str, student: str, epochs: int, teacher: dict, seed: int,
                 options: Optional[dict] = None) -> str:
    """``<root>/<teacher>-<student>_e<epochs>[_<options>]/<method>_s<seed>``; the student alone does not
    depend on the teacher."""
    sub = _sub(student, epochs, None if m is None else teacher, options)
    return osp.join(root, sub, f'{m[1] if m else "none"}_s{seed}')


def run_real(cfg: str, run: str, seed: int, epochs: int, lock: Optional[str] = None,
             retrain: bool = False) -> None:
    """Train ``cfg`` with ``seed`` into ``run`` and test its last checkpoint (both under ``lock``)."""
    with held(lock):
        train(cfg, run, seed=seed, reuse=not retrain)
        test_top1(cfg, run, epochs)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', choices=sorted(STUDENTS) + sorted(REAL), default='synth-cls100')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--methods', nargs='+', choices=list(METHODS), metavar='METHOD',
                   help=f'subset of {list(METHODS)} (default: all)')
    p.add_argument('--out-dir', default='work_dirs/distill_study')
    p.add_argument('--retrain', action='store_true',
                   help='train every run again (default: a run that finished before with the same command '
                        'and the same resolved config is read back)')
    p.add_argument('--collect', action='store_true',
                   help='train nothing: read back the finished runs and write the table')
    p.add_argument('--lock', help='hold an flock on this file during each run only (shared machines)')
    g = p.add_argument_group(f'sources with a test split ({", ".join(REAL)})')
    g.add_argument('--teacher-arch', default='resnet32')
    g.add_argument('--teacher-epochs', type=int, default=30)
    g.add_argument('--student-arch', help="default: the source's (resnet8x0.25 for font-glyphs100)")
    g.add_argument('--epochs', type=int, default=30, help="the students' epochs")
    a = p.parse_args(argv)
    if a.collect and a.retrain:
        p.error('--collect reads runs back; it cannot --retrain')
    os.makedirs(a.out_dir, exist_ok=True)
    real = REAL.get(a.data)
    methods = [m for m in METHODS if not a.methods or m in a.methods]

    if real is None:  # the generated-data and digits studies: leaf configs, the val split
        st = STUDENTS[a.data]
        teacher_cfg = f'configs/distill/baselines/resnet32_{a.data}.py'
        teacher_dir = f'work_dirs/resnet32_{a.data}'  # where the distillation configs look for the teacher
        if not a.collect and not osp.exists(osp.join(teacher_dir, 'epoch_30.pth')):
            print(f'training the teacher: {teacher_cfg}', flush=True)
            with held(a.lock):
                train(teacher_cfg, teacher_dir, seed=0)
        t_acc = last(read_scalars(teacher_dir), 'accuracy/top1')
        head = [f'Teacher resnet32 ({teacher_cfg}): val top-1 {fmt(t_acc)} %.', '']
        key, header = 'val', f'student {st} (val split)'

        def cfg_of(m):
            return (f'configs/distill/baselines/{st}_{a.data}.py' if m is None else
                    f'configs/distill/{m[0]}/{m[1]}_resnet32-{st}_{a.data}.py')

        def run_of(m, s):
            return osp.join(a.out_dir, a.data, f'{m[1] if m else "none"}_s{s}')
        epochs = 30
    else:
        if not a.collect and not osp.isdir(osp.join(real['data_root'], 'test')):
            raise SystemExit(f'{a.data}: {real["data_root"]}/{{train,val,test}} not found; make it with\n  '
                             f'{real["data_command"]}')
        st, tarch, epochs = a.student_arch or real['student'], a.teacher_arch, a.epochs
        root = osp.join(a.out_dir, a.data)
        teacher = teacher_spec(root, tarch, a.teacher_epochs)
        if not a.collect:
            ensure_teacher(real, teacher, a.lock, a.retrain)
        t = read_run(teacher['dir'], has_test=True)
        head = [f'Data: {a.data} ({real["data_root"]}: `{real["data_command"]}`). Teacher {tarch}, '
                f'{a.teacher_epochs} epochs, seed 0 ({teacher["config"]}): test top-1 '
                f'{fmt(t and t["test"])} %, val {fmt(t and t["val"])} %. Students: {st}, {epochs} epochs.',
                '']
        key, header = 'test', f'student {st} (test split)'

        def cfg_of(m):
            return real_config(m, real, root, st, epochs, teacher, write=not a.collect)

        def run_of(m, s):
            return real_run_dir(m, root, st, epochs, teacher, s)

    results: Dict[str, Dict[int, dict]] = {}
    missing = []
    for s in a.seeds:  # complete seeds first: every method at seed 0, then seed 1, ...
        for name in methods:
            m = METHODS[name]
            run = run_of(m, s)
            if not a.collect:
                if real is not None:
                    run_real(cfg_of(m), run, s, epochs, a.lock, a.retrain)
                else:
                    with held(a.lock):
                        train(cfg_of(m), run, seed=s, reuse=not a.retrain)
            r = read_run(run, has_test=real is not None)
            if r is None:
                missing.append(run)
                continue
            if r['loss'] is None or r['loss'] != r['loss']:
                print(f'{name} seed {s}: the training loss diverged (NaN)', flush=True)
            if real is None:
                r['test'] = r['val']
            results.setdefault(name, {})[s] = r
            print(f'{name} seed {s}: {key} top-1 {fmt(r[key])} (val {fmt(r["val"])})', flush=True)
    lines = head + table({n: results.get(n, {}) for n in methods}, a.seeds, key, header)
    if missing:
        lines += ['', f'Not finished ({len(missing)}, under {a.out_dir}): ' +
                  ', '.join(osp.relpath(r, a.out_dir) for r in missing)]
    name = a.data + ('_' + '-'.join(METHODS[m][1] if METHODS[m] else 'none' for m in a.methods)
                     if a.methods else '')
    write_table(osp.join(a.out_dir, f'{name}.md'), lines)
    return 0


if __name__ == '__main__':
    sys.exit(main())
