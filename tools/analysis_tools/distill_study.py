# Copyright (c) mmlavit contributors.
"""The small distillation study: a resnet32 teacher, then a small student alone and with KD, DKD, CLKD and
TRG (configs/distill/<method>/<method>_resnet32-<student>_<data>.py; CLKD also in the paper's literal form,
configs/distill/clkd/clkd-paper_*), over several seeds; top-1 as mean ± std.

    python tools/analysis_tools/distill_study.py --data synth-cls100 --seeds 0 1 2 3 4      # student resnet8
    python tools/analysis_tools/distill_study.py --data digits --seeds 0 1 2 3 4 5 6 7 8 9  # resnet8x0.5
Needs the data (the `data_command` in configs/distill/_base_/datasets/). The teacher is trained first
(configs/distill/baselines/resnet32_<data>.py, seed 0) unless its checkpoint exists. Writes
<out-dir>/<data>.md.
"""
import argparse
import os
import os.path as osp
import sys

from experiments import last, mean_std, read_scalars, train, write_table

STUDENTS = {'synth-cls100': 'resnet8', 'digits': 'resnet8x0.5'}
# name: (folder, config prefix) under configs/distill/
METHODS = {'student alone': None, 'KD': ('kd', 'kd'), 'DKD': ('dkd', 'dkd'), 'CLKD': ('clkd', 'clkd'),
           "CLKD (paper's)": ('clkd', 'clkd-paper'), 'TRG (+KD)': ('trg', 'trg')}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', choices=sorted(STUDENTS), default='synth-cls100')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--methods', nargs='+', choices=list(METHODS), metavar='METHOD',
                   help=f'subset of {list(METHODS)} (default: all)')
    p.add_argument('--out-dir', default='work_dirs/distill_study')
    p.add_argument('--retrain', action='store_true',
                   help='train every run again (default: a run that finished before with the same command '
                        'and the same resolved config is read back)')
    a = p.parse_args(argv)
    os.makedirs(a.out_dir, exist_ok=True)

    teacher_cfg = f'configs/distill/baselines/resnet32_{a.data}.py'
    teacher_dir = f'work_dirs/resnet32_{a.data}'  # where the distillation configs look for the teacher
    if not osp.exists(osp.join(teacher_dir, 'epoch_30.pth')):
        print(f'training the teacher: {teacher_cfg}', flush=True)
        train(teacher_cfg, teacher_dir, seed=0)
    t_acc = last(read_scalars(teacher_dir), 'accuracy/top1')

    st = STUDENTS[a.data]
    lines = [f'Teacher resnet32 ({teacher_cfg}): top-1 {t_acc:.1f} %.', '',
             f'| student {st} | top-1 % (mean ± std over seeds {a.seeds}) | per seed | '
             'train time / run (s) |',
             '|---|---|---|---|']
    for name, m in METHODS.items():
        if a.methods and name not in a.methods:
            continue
        cfg = (f'configs/distill/baselines/{st}_{a.data}.py' if m is None else
               f'configs/distill/{m[0]}/{m[1]}_resnet32-{st}_{a.data}.py')
        accs, secs = [], []
        for s in a.seeds:
            run = osp.join(a.out_dir, a.data, f'{m[1] if m else "none"}_s{s}')
            recs, t = train(cfg, run, seed=s, reuse=not a.retrain)
            loss = last(recs, 'loss')
            if loss is None or loss != loss:  # NaN: say so instead of reporting the 0 % it evaluates to
                print(f'{name} seed {s}: the training loss diverged (NaN)', flush=True)
            accs.append(last(recs, 'accuracy/top1'))
            secs.append(t)
        ms = mean_std(accs)
        per_seed = ', '.join(f'{x:.1f}' for x in accs)
        secs = sum(secs) / len(secs)
        lines.append(f'| {name} | {ms["mean"]:.2f} ± {ms["std"]:.2f} | {per_seed} | {secs:.0f} |')
        print(lines[-1], flush=True)
    name = a.data + ('_' + '-'.join(METHODS[m][1] if METHODS[m] else 'none' for m in a.methods)
                     if a.methods else '')
    write_table(osp.join(a.out_dir, f'{name}.md'), lines)
    return 0


if __name__ == '__main__':
    sys.exit(main())
