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
``run.json`` records the same command and config is read back instead of trained again (``--retrain``).
"""
import argparse
import os
import os.path as osp
import re
import statistics
import sys

from experiments import last, train, write_table

CONFIG = 'configs/lavit/lavit-t_synth-cls.py'
VARIANTS = {
    "LaViT (defaults: the paper's softmax chain; ours: pooled-key Θ, local Ψ, DP loss, residual attn)": [],
    'our chain: LA maps from the VA pre-softmax scores (la_chain=scores)': ['model.backbone.la_chain=scores'],
    'local Θ/Ψ on the full grids (la_transform=conv)': ['model.backbone.la_transform=conv'],
    'all-attention twin': ['model.backbone.all_attention=True'],
    'no DP loss': ['model.backbone.dp_loss_weight=0.0'],
    'no residual attention downsampling': ['model.backbone.residual_attention=False'],
    "literal dense Θ/Ψ (la_transform='full')": ["model.backbone.la_transform=full",
                                                'model.backbone.img_size=64'],
    'Ψ with a 5×5 kernel': ['model.backbone.transform_kernel=5'],
}


DET_CONFIG = 'configs/lavit/mask-rcnn_lavit-t_fpn_synth-coco.py'


def variant_dir(opts, seed, out_dir):
    """The work dir of a variant's run: a slug of its options (the same in every process, unlike
    ``hash()``), so that a finished run is found and read back."""
    slug = '_'.join(f"{k.rsplit('.', 1)[-1]}-{v}" for k, v in (o.split('=', 1) for o in opts)) or 'defaults'
    return osp.join(out_dir, f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', slug)}_s{seed}")


def run(name, opts, seed, out_dir, reuse=True):
    wd = variant_dir(opts, seed, out_dir)
    recs, secs = train(CONFIG, wd, ['default_hooks.checkpoint.interval=100', *opts], seed, reuse=reuse)
    dp = last(recs, 'loss_dp')
    return last(recs, 'accuracy/top1'), dp, secs


def run_det(name, opts, seed, out_dir, reuse=True):
    """Classifier with the switch, then Mask R-CNN from its checkpoint with the same switch:
    (bbox mAP, segm mAP, seconds of both runs)."""
    wd = variant_dir(opts, seed, out_dir)
    _, cls_secs = train(CONFIG, osp.join(wd, 'cls'), opts, seed, reuse=reuse)  # keeps epoch_15.pth
    ckpt = osp.join(wd, 'cls', 'epoch_15.pth')
    det_opts = [f'model.backbone.init_cfg.checkpoint={ckpt}', *opts]
    recs, det_secs = train(DET_CONFIG, osp.join(wd, 'det'), det_opts, seed, reuse=reuse)
    return last(recs, 'coco/bbox_mAP'), last(recs, 'coco/segm_mAP'), cls_secs + det_secs


def _mean_std(vals, digits=1):
    std = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return f'{statistics.mean(vals):.{digits}f} ± {std:.{digits}f}'


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--task', choices=['cls', 'det'], default='cls')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--variants', nargs='+', help='subset of variant names, or their 0-based indices')
    p.add_argument('--out-dir', default='work_dirs/ablation')
    p.add_argument('--retrain', action='store_true',
                   help='train every run again (default: a finished run with the same command and config, '
                        'as its run.json records, is read back)')
    a = p.parse_args(argv)
    os.makedirs(a.out_dir, exist_ok=True)
    if a.task == 'cls':
        lines = [f'| variant | top-1 % (mean ± std, seeds {a.seeds}) | per seed | final loss_dp '
                 '| train time (s) |', '|---|---|---|---|---|']
    else:
        lines = [f'| variant | bbox mAP (mean ± std, seeds {a.seeds}) | segm mAP | per seed (bbox / segm) '
                 '| cls + det train time (s) |', '|---|---|---|---|---|']
    for name, opts in VARIANTS.items():
        if a.variants and name not in a.variants and str(list(VARIANTS).index(name)) not in a.variants:
            continue
        if a.task == 'cls':
            rs = [run(name, opts, s, a.out_dir, not a.retrain) for s in a.seeds]
            dps = [r[1] for r in rs if r[1] is not None]
            dp = f'{statistics.mean(dps):.4f}' if dps else '—'
            per = ', '.join(f'{r[0]:.1f}' for r in rs)
            lines.append(f'| {name} | {_mean_std([r[0] for r in rs])} | {per} | {dp} '
                         f'| {statistics.mean(r[2] for r in rs):.0f} |')
        else:
            rs = [run_det(name, opts, s, a.out_dir, not a.retrain) for s in a.seeds]
            per = ', '.join(f'{r[0]:.3f} / {r[1]:.3f}' for r in rs)
            lines.append(f'| {name} | {_mean_std([r[0] for r in rs], digits=3)} | '
                         f'{_mean_std([r[1] for r in rs], digits=3)} | {per} | '
                         f'{statistics.mean(r[2] for r in rs):.0f} |')
        print(lines[-1], flush=True)
    write_table(osp.join(a.out_dir, f'ablation{"_det" if a.task == "det" else ""}.md'), lines)
    return 0


if __name__ == '__main__':
    sys.exit(main())
