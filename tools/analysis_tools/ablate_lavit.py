# Copyright (c) mmlavit contributors.
"""The small LaViT ablation behind docs/lavit_design.md: train the small classification config with each
design switch flipped, over several seeds, and report top-1 (mean ± std), the final DP loss and the time.

    python tools/analysis_tools/ablate_lavit.py --seeds 0 1 --out-dir work_dirs/ablation
Needs the generated class folders (tools/dataset_converters/generate_data.py imagenet).
"""
import argparse
import os
import os.path as osp
import statistics
import sys

from experiments import last, train, write_table

CONFIG = 'configs/lavit/lavit-t_synth-cls.py'
VARIANTS = {
    'LaViT (ours: pooled-key Θ, local Ψ, DP loss, residual attn)': [],
    "paper's chain: LA maps from the VA softmax map (la_chain=softmax)": ['model.backbone.la_chain=softmax'],
    'local Θ/Ψ on the full grids (la_transform=conv)': ['model.backbone.la_transform=conv'],
    'all-attention twin': ['model.backbone.all_attention=True'],
    'no DP loss': ['model.backbone.dp_loss_weight=0.0'],
    'no residual attention downsampling': ['model.backbone.residual_attention=False'],
    "literal dense Θ/Ψ (la_transform='full')": ["model.backbone.la_transform=full",
                                                'model.backbone.img_size=64'],
    'Ψ with a 5×5 kernel': ['model.backbone.transform_kernel=5'],
}


def run(name, opts, seed, out_dir):
    wd = osp.join(out_dir, f'{abs(hash(name)) % 10**8}_s{seed}')
    recs, secs = train(CONFIG, wd, ['default_hooks.checkpoint.interval=100', *opts], seed)
    dp = last(recs, 'loss_dp')
    return last(recs, 'accuracy/top1'), dp, secs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--variants', nargs='+', help='subset of variant names, or their 0-based indices')
    p.add_argument('--out-dir', default='work_dirs/ablation')
    a = p.parse_args(argv)
    os.makedirs(a.out_dir, exist_ok=True)
    lines = [f'| variant | top-1 % (mean ± std, seeds {a.seeds}) | final loss_dp | train time (s) |',
             '|---|---|---|---|']
    for name, opts in VARIANTS.items():
        if a.variants and name not in a.variants and str(list(VARIANTS).index(name)) not in a.variants:
            continue
        rs = [run(name, opts, s, a.out_dir) for s in a.seeds]
        accs = [r[0] for r in rs]
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        dps = [r[1] for r in rs if r[1] is not None]
        dp = f'{statistics.mean(dps):.4f}' if dps else '—'
        lines.append(f'| {name} | {statistics.mean(accs):.1f} ± {std:.1f} | {dp} | '
                     f'{statistics.mean(r[2] for r in rs):.0f} |')
        print(lines[-1], flush=True)
    write_table(osp.join(a.out_dir, 'ablation.md'), lines)
    return 0


if __name__ == '__main__':
    sys.exit(main())
