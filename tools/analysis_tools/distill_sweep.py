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
finished with the same config), with the sweep's options set on existing config keys only (the grid:
mmlavit/analysis/distill_sweep.py). ``--jobs N`` trains N runs at once, each with ``cpu_count / N`` threads.
Writes ``<out-dir>/<data>_sweep.md``.
"""
import argparse
import os
import os.path as osp
import sys

from mmlavit.analysis.distill import REAL, check_real_data
from mmlavit.analysis.distill_sweep import SWEEPS, sweep
from mmlavit.analysis.report import write_table
from mmlavit.analysis.study import add_study_args, study_from_args


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', choices=sorted(REAL), default='font-glyphs100')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--sweeps', nargs='+', choices=list(SWEEPS), default=list(SWEEPS))
    p.add_argument('--out-dir', default='work_dirs/distill_study')
    p.add_argument('--student-arch', help="default: the source's")
    p.add_argument('--epochs', type=int, default=30, help="the students' epochs")
    p.add_argument('--teachers', nargs='+', metavar='ARCH:EPOCHS',
                   help='only the points of these teachers (e.g. resnet32x4:30; default: every teacher)')
    add_study_args(p)
    a = p.parse_args(argv)
    study = study_from_args(a, p)
    os.makedirs(a.out_dir, exist_ok=True)
    src = REAL[a.data] if a.collect else check_real_data(a.data)
    teachers = [(t.partition(':')[0], int(t.partition(':')[2] or 30)) for t in a.teachers or []]
    try:
        lines = sweep(study, src, osp.join(a.out_dir, a.data), a.student_arch or src['student'], a.epochs,
                      a.seeds, a.sweeps, teachers)
    except ValueError as e:
        p.error(str(e))
    write_table(osp.join(a.out_dir, f'{a.data}_sweep.md'), lines)
    if study.failed:
        failed = [f'{k}: {v}' for k, v in study.failed.items()]
        print(f'{len(failed)} run(s) failed:\n  ' + '\n  '.join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
