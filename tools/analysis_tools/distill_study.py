# Copyright (c) mmlavit contributors.
"""The small distillation study: a teacher, then a small student alone and with KD, DKD, CLKD (ours and the
paper's literal form) and TRG (+KD), over several seeds (same seeds, same data order for every method); top-1
as mean ± std, the per-seed numbers, and each method's paired difference from KD and from the student alone
(mean over seeds with its 95 % t-interval).

    python tools/analysis_tools/distill_study.py --data synth-cls100 --seeds 0 1 2 3 4      # student resnet8
    python tools/analysis_tools/distill_study.py --data digits --seeds 0 1 2 3 4 5 6 7 8 9  # resnet8x0.5
    python tools/analysis_tools/distill_study.py --data font-glyphs100 --seeds 0 1 2 3 4    # real glyphs
    python tools/analysis_tools/distill_study.py --data font-glyphs100 --seeds 0 1 2 3 4 --collect
    python tools/analysis_tools/distill_study.py --data font-glyphs100 --protocol fair --seeds 0 1 2 3 4 \\
        --tune-seeds 0 1 2 --jobs 2                                                  # tuned KD vs the others

Needs the data (``data_command`` in mmlavit/analysis/distill.py and configs/distill/_base_/datasets/).
``synth-cls100`` and ``digits`` train the leaf configs ``configs/distill/<method>/<method>_resnet32-<student>_
<data>.py`` (teacher: configs/distill/baselines/resnet32_<data>.py, seed 0, unless its checkpoint exists) and
report the val split (they have no other). ``font-glyphs100`` (100 characters drawn by ~800 installed fonts,
split by font family: tools/dataset_converters/font_glyphs.py) has train / val / test splits: its configs are
the digits leaf configs with the data, the class count, the teacher and the student archs changed and written
to ``<out-dir>/<data>/configs/``; every run is evaluated on val (for choices) and on test (the table).

``--protocol fair`` (real sources): the published recipes as shipped, and a parity arm where every method
tries the same number of settings on val (CE weight, loss weight and one knob of its own;
mmlavit/analysis/distill_fair.py), the best chosen on val and its test reported, paired with the tuned KD;
``--methods`` narrows it (KD always runs).

A finished run (same command, same resolved config) is read back, not trained again; ``--collect`` trains
nothing and lists the missing runs. Writes ``<out-dir>/<data>[_<methods>|_fair].md``.
"""
import argparse
import os
import os.path as osp
import sys

from mmlavit.analysis.distill import METHODS, REAL, STUDENTS, check_real_data, study_methods
from mmlavit.analysis.distill_fair import fair_study
from mmlavit.analysis.report import write_table
from mmlavit.analysis.study import add_study_args, study_from_args


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', choices=sorted(STUDENTS) + sorted(REAL), default='synth-cls100')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--methods', nargs='+', choices=list(METHODS), metavar='METHOD',
                   help=f'subset of {list(METHODS)} (default: all)')
    p.add_argument('--out-dir', default='work_dirs/distill_study')
    p.add_argument('--protocol', choices=['methods', 'fair'], default='methods',
                   help='methods: each method as shipped; fair: published and parity (tuned on val) arms')
    p.add_argument('--tune-seeds', type=int, nargs='+',
                   help='--protocol fair: the seeds the settings are chosen on (default: --seeds)')
    add_study_args(p)
    g = p.add_argument_group(f'sources with a test split ({", ".join(REAL)})')
    g.add_argument('--teacher-arch', default='resnet32')
    g.add_argument('--teacher-epochs', type=int, default=30)
    g.add_argument('--student-arch', help="default: the source's (resnet8x0.25 for font-glyphs100)")
    g.add_argument('--epochs', type=int, default=30, help="the students' epochs")
    a = p.parse_args(argv)
    study = study_from_args(a, p)
    os.makedirs(a.out_dir, exist_ok=True)
    if a.protocol == 'fair':
        if a.data not in REAL:
            p.error(f'--protocol fair chooses on val and reports test: --data {" or ".join(REAL)}')
        src = REAL[a.data] if study.collect else check_real_data(a.data)
        try:
            lines = fair_study(study, a.data, src, osp.join(a.out_dir, a.data),
                               a.student_arch or src['student'], a.epochs, a.seeds, a.tune_seeds or a.seeds,
                               a.teacher_arch, a.teacher_epochs, a.methods)
        except ValueError as e:
            p.error(str(e))
        name = f'{a.data}_fair' + ('_' + '-'.join(METHODS[m][1] for m in a.methods) if a.methods else '')
    else:
        methods = [m for m in METHODS if not a.methods or m in a.methods]
        lines = study_methods(study, a.data, a.seeds, methods, a.out_dir, a.teacher_arch, a.teacher_epochs,
                              a.student_arch, a.epochs)
        name = a.data + ('_' + '-'.join(METHODS[m][1] if METHODS[m] else 'none' for m in a.methods)
                         if a.methods else '')
    write_table(osp.join(a.out_dir, f'{name}.md'), lines)
    return 1 if study.failed else 0


if __name__ == '__main__':
    sys.exit(main())
