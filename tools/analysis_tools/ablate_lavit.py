# Copyright (c) mmlavit contributors.
"""The small LaViT ablation behind docs/lavit_design.md: train the small classification config with each
design switch flipped, over several seeds, and report top-1 (mean ± std), the final DP loss and the time.
With ``--task det`` each variant is carried through the small Mask R-CNN config instead: the classifier is
trained with the switch (and seed), then initialises the detector's backbone, trained with the same switch
and seed; reported: CocoMetric bbox and segm mAP.

    python tools/analysis_tools/ablate_lavit.py --seeds 0 1 --out-dir work_dirs/ablation
    python tools/analysis_tools/ablate_lavit.py --task det --variants 0 1 --seeds 0 --out-dir work_dirs/abl_d
Needs the generated class folders (tools/dataset_converters/generate_data.py imagenet) and, for ``det``, the
generated COCO shapes (``generate_data.py coco data/synthetic_coco``). Each run trains into
``<out-dir>/<its options as a slug>_s<seed>`` (e.g. ``la_chain-scores_s0``); a finished run whose
``run.json`` records the same command and config is read back instead of trained again (``--retrain``);
``--collect`` trains nothing. The variants: mmlavit/analysis/lavit_ablation.py.
"""
import argparse
import os
import os.path as osp
import sys

from mmlavit.analysis.lavit_ablation import VARIANTS, ablate
from mmlavit.analysis.report import write_table
from mmlavit.analysis.study import add_study_args, study_from_args


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--task', choices=['cls', 'det'], default='cls')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--variants', nargs='+', help='subset of variant names, or their 0-based indices')
    p.add_argument('--out-dir', default='work_dirs/ablation')
    add_study_args(p)
    a = p.parse_args(argv)
    study = study_from_args(a, p)
    os.makedirs(a.out_dir, exist_ok=True)
    names = list(VARIANTS)
    chosen = {n: o for i, (n, o) in enumerate(VARIANTS.items())
              if not a.variants or n in a.variants or str(i) in a.variants}
    if not chosen:
        p.error(f'--variants {a.variants}: none of {names} (or indices 0-{len(names) - 1})')
    lines = ablate(study, a.task, a.seeds, chosen, a.out_dir)
    write_table(osp.join(a.out_dir, f'ablation{"_det" if a.task == "det" else ""}.md'), lines)
    return 1 if study.failed else 0


if __name__ == '__main__':
    sys.exit(main())
