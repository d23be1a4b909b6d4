# Copyright (c) mmlavit contributors.
"""Attention-saturation report: cosine similarity of attention maps between successive layers of each stage,
for LaViT and its all-attention twin (the paper's motivation: in vanilla ViTs, later layers' attention maps
become nearly identical). Writes a Markdown table and a PNG plot.

    python tools/analysis_tools/attention_saturation.py \\
        --model LaViT configs/lavit/lavit-t_synth-cls.py work_dirs/lavit-t_synth-cls/epoch_15.pth \\
        --model twin configs/lavit/lavit-t-allattn_synth-cls.py \\
                     work_dirs/lavit-t-allattn_synth-cls/epoch_15.pth \\
        --num-images 64 --out-dir work_dirs/saturation
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.dataset import pseudo_collate

import mmlavit  # noqa: F401

from model_analysis import attention_maps, build_model, successive_similarity


def load_images(cfg, model, n):
    scope = cfg.get('default_scope', 'mmpretrain')
    registry = __import__(f'{scope}.registry', fromlist=['DATASETS']).DATASETS
    ds = registry.build(cfg.val_dataloader.dataset)
    batch = pseudo_collate([ds[i] for i in range(min(n, len(ds)))])
    return model.data_preprocessor(batch, False)['inputs']


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', nargs=3, action='append', metavar=('NAME', 'CONFIG', 'CHECKPOINT'),
                   required=True,
                   help="a model to report; CHECKPOINT 'none' = untrained")
    p.add_argument('--num-images', type=int, default=64)
    p.add_argument('--data-root', help="override the first config's val_dataloader.dataset.data_root")
    p.add_argument('--out-dir', default='work_dirs/saturation')
    a = p.parse_args(argv)
    os.makedirs(a.out_dir, exist_ok=True)
    results = {}
    images = None
    for name, config, ckpt in a.model:
        cfg, model = build_model(config, None if ckpt == 'none' else ckpt)
        if a.data_root:
            cfg.val_dataloader.dataset.data_root = a.data_root
        if images is None:  # the same images (from the first config's val set) for every model
            images = load_images(cfg, model, a.num_images)
        maps, where = attention_maps(model, images)
        results[name] = successive_similarity(maps, where)

    lines = ['| model | stage | layer | mode | cos(prev layer) |', '|---|---|---|---|---|']
    for name, rows in results.items():
        for r in rows:
            lines.append(f'| {name} | {r["stage"] + 1} | {r["layer"] + 1} | {r["mode"].upper()} | '
                         f'{r["cos"]:.3f} ± {r["std"]:.3f} |')
    summary = ['', '| model | mean cos, layers ≥ 2 of each stage |', '|---|---|']
    for name, rows in results.items():
        summary.append(f'| {name} | {sum(r["cos"] for r in rows) / max(len(rows), 1):.3f} |')
    table = '\n'.join(lines + summary)
    with open(osp.join(a.out_dir, 'saturation.md'), 'w') as f:
        f.write(table + '\n')
    print(table)

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, rows in results.items():
        labels = [f's{r["stage"] + 1}l{r["layer"] + 1}' for r in rows]
        ax.plot(labels, [r['cos'] for r in rows], marker='o', label=name)
    ax.set_ylabel('cosine similarity to previous layer')
    ax.set_xlabel('stage / layer')
    ax.set_ylim(0, 1.02)
    ax.set_title('Attention saturation (successive layers within a stage)')
    ax.legend()
    ax.grid(alpha=.3)
    fig.tight_layout()
    fig.savefig(osp.join(a.out_dir, 'saturation.png'), dpi=120)
    print(f'wrote {osp.join(a.out_dir, "saturation.md")} and saturation.png')
    return 0


if __name__ == '__main__':
    sys.exit(main())
