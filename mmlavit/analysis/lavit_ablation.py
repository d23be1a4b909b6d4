"""The small LaViT ablation of ``tools/analysis_tools/ablate_lavit.py`` (docs/lavit_design.md): the small
classification config with each design switch flipped, over seeds; with ``task='det'`` each variant is
carried through the small Mask R-CNN config (the classifier trained with the switch initialises the
detector's backbone, trained with the same switch and seed)."""
import os.path as osp
import re
from typing import Dict, List, Sequence

from mmlavit.evaluation.stats import mean_std

from .study import Run

CONFIG = 'configs/lavit/lavit-t_synth-cls.py'
DET_CONFIG = 'configs/lavit/mask-rcnn_lavit-t_fpn_synth-coco.py'
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


def variant_dir(opts: Sequence[str], seed: int, out_dir: str) -> str:
    """The work dir of a variant's run: a slug of its options (the same in every process, unlike
    ``hash()``), so that a finished run is found and read back."""
    slug = '_'.join(f"{k.rsplit('.', 1)[-1]}-{v}" for k, v in (o.split('=', 1) for o in opts)) or 'defaults'
    return osp.join(out_dir, f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', slug)}_s{seed}")


def variant_runs(task: str, opts: Sequence[str], seed: int, out_dir: str) -> List[Run]:
    """The runs of one variant and seed: the classifier (checkpoints every 100 epochs, i.e. only the last);
    for ``det`` the classifier keeps ``epoch_15.pth`` and the detector starts from it."""
    wd = variant_dir(opts, seed, out_dir)
    if task == 'cls':
        return [Run(CONFIG, wd, ['default_hooks.checkpoint.interval=100', *opts], seed)]
    cls = Run(CONFIG, osp.join(wd, 'cls'), list(opts), seed)
    ckpt = osp.join(cls.work_dir, 'epoch_15.pth')
    return [cls, Run(DET_CONFIG, osp.join(wd, 'det'), [f'model.backbone.init_cfg.checkpoint={ckpt}', *opts],
                     seed, needs=(cls.work_dir,))]


def _mean_std(vals: Sequence[float], digits: int = 1) -> str:
    s = mean_std(vals)
    return f'{s.mean:.{digits}f} ± {s.std:.{digits}f}'


def ablate(study, task: str, seeds: Sequence[int], variants: Dict[str, Sequence[str]],
           out_dir: str) -> List[str]:
    """Run (or read back) every variant and seed with ``study``; returns the Markdown table."""
    runs = {(n, s): variant_runs(task, opts, s, out_dir) for n, opts in variants.items() for s in seeds}
    done = study.run([r for rs in runs.values() for r in rs])
    if task == 'cls':
        lines = [f'| variant | top-1 % (mean ± std, seeds {list(seeds)}) | per seed | final loss_dp '
                 '| train time (s) |', '|---|---|---|---|---|']
    else:
        lines = [f'| variant | bbox mAP (mean ± std, seeds {list(seeds)}) | segm mAP | per seed '
                 '(bbox / segm) | cls + det train time (s) |', '|---|---|---|---|---|']
    for name in variants:
        res = [[done[r.work_dir] for r in runs[name, s]] for s in seeds]
        if any(r is None for rs in res for r in rs):
            lines.append(f'| {name} | not finished | | | |')
            continue
        secs = [sum(r.seconds for r in rs) for rs in res]
        if task == 'cls':
            accs = [rs[0].last('accuracy/top1') for rs in res]
            dps = [rs[0].last('loss_dp') for rs in res]
            dps = [d for d in dps if d is not None]
            dp = f'{mean_std(dps).mean:.4f}' if dps else '—'
            lines.append(f'| {name} | {_mean_std(accs)} | {", ".join(f"{a:.1f}" for a in accs)} | {dp} '
                         f'| {mean_std(secs).mean:.0f} |')
        else:
            box = [rs[1].last('coco/bbox_mAP') for rs in res]
            seg = [rs[1].last('coco/segm_mAP') for rs in res]
            per = ', '.join(f'{b:.3f} / {m:.3f}' for b, m in zip(box, seg))
            lines.append(f'| {name} | {_mean_std(box, digits=3)} | {_mean_std(seg, digits=3)} | {per} | '
                         f'{mean_std(secs).mean:.0f} |')
        print(lines[-1], flush=True)
    return lines
