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
(``run.json``); ``--collect`` trains nothing. Writes ``<out-dir>/<data>_<shots>shot[_<methods>].md``.
"""
import argparse
import os
import os.path as osp
import sys

from mmlavit.analysis.fewshot import DATA, METHODS, study_fewshot
from mmlavit.analysis.report import write_table
from mmlavit.analysis.study import add_study_args, study_from_args


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', choices=sorted(DATA), default='synth')
    p.add_argument('--shots', type=int, nargs='+', choices=[1, 5], default=[1])
    p.add_argument('--methods', nargs='+', choices=METHODS, default=METHODS[:6])
    p.add_argument('--seeds', type=int, nargs='+', default=[0])
    p.add_argument('--out-dir', default='work_dirs/fewshot_study')
    add_study_args(p)
    a = p.parse_args(argv)
    study = study_from_args(a, p)
    os.makedirs(a.out_dir, exist_ok=True)
    tables = study_fewshot(study, a.data, a.shots, a.methods, a.seeds, a.out_dir)
    for shots, lines in tables.items():
        name = f'{a.data}_{shots}shot' + ('' if a.methods == METHODS[:6] else '_' + '-'.join(a.methods))
        write_table(osp.join(a.out_dir, f'{name}.md'), lines)
    return 1 if study.failed else 0


if __name__ == '__main__':
    sys.exit(main())
