"""The distillation studies' grid (``tools/analysis_tools/distill_study.py``, ``distill_sweep.py``): the data
sources, the methods and their leaf configs, configs derived for a real source (data, class count, archs,
teacher, options on existing keys only), the run folders, and the study's table.

A real source (``REAL``) has train / val / test class folders; its configs are the digits leaf configs with
the data, the class count, the teacher and the student archs changed in memory and written to
``<root>/configs/`` (``<root>`` = ``<out-dir>/<data>``). Every run is evaluated on val (for choices) and its
last checkpoint on test (the table)."""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmlavit.evaluation.stats import mean_std, paired

from .study import Result, Run, Test, repo_path

STUDENTS = {'synth-cls100': 'resnet8', 'digits': 'resnet8x0.5'}
# Sources with train/val/test class folders whose configs are derived from the digits leaf configs.
REAL = {
    'font-glyphs100': dict(
        data_root='data/font_glyphs100', num_classes=100, student='resnet8x0.25',  # chosen on val
        data_command='python tools/dataset_converters/font_glyphs.py data/font_glyphs100 '
                     '--max-train-fonts 30 --max-val-fonts 40 --max-test-fonts 100'),
}
DERIVE_FROM = 'digits'
# name: (folder, config prefix) under configs/distill/; None: the student alone
METHODS = {'student alone': None, 'KD': ('kd', 'kd'), 'DKD': ('dkd', 'dkd'), 'CLKD': ('clkd', 'clkd'),
           "CLKD (paper's)": ('clkd', 'clkd-reimpl'), 'TRG (+KD)': ('trg', 'trg')}
# the test of a run's last checkpoint (one loader process in the test subprocess, a fixed seed)
TEST_OPTIONS = ('test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
                'randomness.seed=0')


def arch_width(arch: str) -> int:
    """Channels of the last stage of a CifarResNet arch (the head's ``in_channels``, TRG's token dim)."""
    from mmlavit.models.backbones.cifar_resnet import CifarResNet
    if arch not in CifarResNet.arch_zoo:
        raise ValueError(f'--teacher-arch/--student-arch: {arch!r} is not one of '
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
    :func:`apply_options`). Written to ``out``; returns ``out``. Loads a config: the calling thread only."""
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


def teacher_spec(root: str, arch: str, epochs: int) -> dict:
    """Where the study's teacher ``arch`` trained for ``epochs`` lives under ``root`` (``<out>/<data>``)."""
    name = f'teacher_{arch}_e{epochs}'
    cfg = osp.join(root, 'configs', f'{name}.py')
    d = osp.join(root, name)
    return dict(name=name, arch=arch, epochs=epochs, dir=d, config=cfg,
                checkpoint=osp.join(d, f'epoch_{epochs}.pth'))


def _test(work_dir: str, epochs: int) -> Test:
    return Test(f'epoch_{epochs}.pth', osp.join(work_dir, 'test'), TEST_OPTIONS)


def teacher_run(src: dict, teacher: dict, write: bool = True) -> Run:
    """The teacher's run (seed 0, tested); its config is derived unless ``write`` is False."""
    if write:
        derive_config(f'configs/distill/baselines/resnet32_{DERIVE_FROM}.py', teacher['config'], src,
                      teacher['arch'], teacher['epochs'])
    return Run(teacher['config'], teacher['dir'], seed=0, test=_test(teacher['dir'], teacher['epochs']))


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


def real_run(m, src: dict, root: str, student: str, epochs: int, teacher: dict, seed: int,
             options: Optional[dict] = None, write: bool = True) -> Run:
    """The run of method ``m`` (a ``METHODS`` value) with ``seed`` and ``options``, tested on the last
    checkpoint; after the teacher's run."""
    wd = real_run_dir(m, root, student, epochs, teacher, seed, options)
    cfg = real_config(m, src, root, student, epochs, teacher, options, write)
    return Run(cfg, wd, seed=seed, test=_test(wd, epochs), needs=() if m is None else (teacher['dir'],))


def summarise(result: Optional[Result]) -> Optional[dict]:
    """``dict(val, test, seconds, loss)`` of a finished run (val top-1: the last logged; test top-1 or
    None), None for a run that has not finished."""
    if result is None:
        return None
    return dict(val=result.last('accuracy/top1'), test=result.test and result.test['accuracy/top1'],
                seconds=result.seconds, loss=result.last('loss'))


def fmt(x: Optional[float], nd: int = 2) -> str:
    return '–' if x is None else f'{x:.{nd}f}'


def fmt_paired(runs: Dict[int, float], ref: Dict[int, float]) -> str:
    """``'+1.00 [-0.50, +2.50], 2/3'``: mean paired difference, 95 % t-interval (none for one pair), wins."""
    d = paired(runs, ref)
    ci = f' [{d.lo:+.2f}, {d.hi:+.2f}]' if d.n > 1 else ''
    return f'{d.mean:+.2f}{ci}, {d.wins}/{d.n}'


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
        lines.append(f'| {name} | {ms.mean:.2f} ± {ms.std:.2f} (n = {len(accs)}) | {per_seed} | '
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
            d = paired({s: runs[s][key] for s in pairs}, {s: results[ref][s][key] for s in pairs})
            ci = f'[{d.lo:+.2f}, {d.hi:+.2f}]' if d.n > 1 else '– (one pair)'
            lines.append(f'| {name} − {ref} | {d.mean:+.2f} | {ci} | {d.wins} / {d.n} |')
    return lines


def check_real_data(data: str) -> dict:
    """The ``REAL`` source ``data``; exits with the command that makes it when its splits are missing."""
    src = REAL[data]
    if not osp.isdir(osp.join(src['data_root'], 'test')):
        raise SystemExit(f'{data}: {src["data_root"]}/{{train,val,test}} not found; make it with\n  '
                         f'{src["data_command"]}')
    return src


def study_methods(study, data: str, seeds: Sequence[int], methods: Sequence[str], out_dir: str,
                  teacher_arch: str = 'resnet32', teacher_epochs: int = 30,
                  student_arch: Optional[str] = None,
                  epochs: int = 30) -> List[str]:
    """The methods table (``distill_study.py``): each of ``methods`` (``METHODS`` names) over ``seeds`` (all
    methods at a seed before the next seed), run or read back by ``study`` (a
    :class:`~mmlavit.analysis.study.Study`); returns the table's Markdown lines.

    ``synth-cls100`` and ``digits`` train the leaf configs (teacher: ``work_dirs/resnet32_<data>``, where
    the leaves look for it) and report val; a ``REAL`` source derives its configs and reports test."""
    from .study import last, read_scalars
    os.makedirs(out_dir, exist_ok=True)
    real = REAL.get(data)
    runs: Dict[str, Dict[int, Run]] = {n: {} for n in methods}
    if real is None:  # the generated-data and digits studies: leaf configs, the val split
        st = STUDENTS[data]
        teacher_cfg = f'configs/distill/baselines/resnet32_{data}.py'
        teacher_dir = f'work_dirs/resnet32_{data}'  # where the distillation configs look for the teacher
        trained = osp.exists(osp.join(teacher_dir, 'epoch_30.pth'))
        first = [] if trained else [Run(teacher_cfg, teacher_dir, seed=0)]
        for s in seeds:
            for n in methods:
                m = METHODS[n]
                cfg = (f'configs/distill/baselines/{st}_{data}.py' if m is None else
                       f'configs/distill/{m[0]}/{m[1]}_resnet32-{st}_{data}.py')
                runs[n][s] = Run(cfg, osp.join(out_dir, data, f'{m[1] if m else "none"}_s{s}'), seed=s,
                                 needs=[r.work_dir for r in first])
        key, header = 'val', f'student {st} (val split)'
    else:
        if not study.collect:
            check_real_data(data)
        st = student_arch or real['student']
        root = osp.join(out_dir, data)
        teacher = teacher_spec(root, teacher_arch, teacher_epochs)
        first = [teacher_run(real, teacher, write=not study.collect)]
        for s in seeds:
            for n in methods:
                runs[n][s] = real_run(METHODS[n], real, root, st, epochs, teacher, s, write=not study.collect)
        key, header = 'test', f'student {st} (test split)'
    ordered = [r for s in seeds for n in methods for r in [runs[n][s]]]
    done = study.run(first + ordered)
    if real is None:
        t_acc = last(read_scalars(teacher_dir), 'accuracy/top1')
        head = [f'Teacher resnet32 ({teacher_cfg}): val top-1 {fmt(t_acc)} %.', '']
    else:
        t = summarise(done[teacher['dir']])
        head = [f'Data: {data} ({real["data_root"]}: `{real["data_command"]}`). Teacher {teacher_arch}, '
                f'{teacher_epochs} epochs, seed 0 ({teacher["config"]}): test top-1 '
                f'{fmt(t and t["test"])} %, val {fmt(t and t["val"])} %. Students: {st}, {epochs} epochs.',
                '']
    results: Dict[str, Dict[int, dict]] = {n: {} for n in methods}
    missing = []
    for s in seeds:
        for n in methods:
            r = summarise(done[runs[n][s].work_dir])
            if r is None:
                missing.append(runs[n][s].work_dir)
                continue
            if r['loss'] is None or r['loss'] != r['loss']:
                print(f'{n} seed {s}: the training loss diverged (NaN)', flush=True)
            if real is None:
                r['test'] = r['val']
            results[n][s] = r
            print(f'{n} seed {s}: {key} top-1 {fmt(r[key])} (val {fmt(r["val"])})', flush=True)
    lines = head + table(results, seeds, key, header)
    if missing:
        lines += ['', f'Not finished ({len(missing)}, under {out_dir}): ' +
                  ', '.join(osp.relpath(r, out_dir) for r in missing)]
    return lines
