# Copyright (c) mmlavit contributors.
"""Visualise LaViT attention on one image: for a query token (the image centre by default), the attention
over keys of chosen layers (mean over heads), upsampled onto the image. Writes one PNG.

    python tools/analysis_tools/vis_attention.py CONFIG CHECKPOINT IMAGE --layers 0 1 4 5 --out attn.png
Layer indices count all layers of all stages (``--layers all`` for every one); ``--query y x`` picks the
query in relative coordinates (0..1).
"""
import argparse
import sys

import mmcv
import numpy as np
import torch
import torch.nn.functional as F

import mmlavit  # noqa: F401

from model_analysis import attention_maps, build_model, find_lavit


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('image')
    p.add_argument('--layers', nargs='+', default=['all'])
    p.add_argument('--query', type=float, nargs=2, default=(0.5, 0.5), metavar=('Y', 'X'))
    p.add_argument('--size', type=int, nargs=2, help='resize the image to H W first')
    p.add_argument('--out', default='attention.png')
    a = p.parse_args(argv)
    cfg, model = build_model(a.config, a.checkpoint)
    img = mmcv.imread(a.image)  # BGR
    if a.size:
        img = mmcv.imresize(img, (a.size[1], a.size[0]))
    x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float()[None]
    inputs = model.data_preprocessor(dict(inputs=[x[0]], data_samples=None), False)['inputs']
    maps, where = attention_maps(model, inputs)
    backbone = find_lavit(model)
    layers = range(len(maps)) if a.layers == ['all'] else [int(v) for v in a.layers]

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    h, w = img.shape[:2]
    fig, axes = plt.subplots(1, len(layers) + 1, figsize=(2.6 * (len(layers) + 1), 2.8))
    axes[0].imshow(img[..., ::-1])
    axes[0].set_title('image')
    for ax, li in zip(axes[1:], layers):
        s, j, mode = where[li]
        stride = 4 * 2 ** s
        qh, qw = -(-h // stride), -(-w // stride)
        r = backbone.stages[s].blocks[j].attn.sr_ratio
        kh, kw = (qh // r, qw // r) if r > 1 else (qh, qw)
        q = min(int(a.query[0] * qh), qh - 1) * qw + min(int(a.query[1] * qw), qw - 1)
        m = maps[li][0, :, q].mean(0).reshape(1, 1, kh, kw)
        m = F.interpolate(m, size=(h, w), mode='nearest')[0, 0].numpy()
        ax.imshow(img[..., ::-1])
        ax.imshow(m, alpha=0.55, cmap='jet')
        ax.plot(a.query[1] * w, a.query[0] * h, 'w+', ms=10)
        ax.set_title(f'stage {s + 1} layer {j + 1} ({mode.upper()})', fontsize=8)
    for ax in axes:
        ax.axis('off')
    fig.tight_layout()
    fig.savefig(a.out, dpi=120)
    print(f'wrote {a.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
