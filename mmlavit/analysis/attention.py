"""LaViT's attention maps read back from a model: every layer's softmax map, the similarity of successive
layers' maps (attention saturation, the paper's motivation: in vanilla ViTs later layers' maps become nearly
identical) and an overlay of one query's attention on the image. Behind ``attention_saturation.py`` and
``vis_attention.py`` of ``tools/analysis_tools``.

    python tools/analysis_tools/attention_saturation.py \\
        --model LaViT configs/lavit/lavit-t_synth-cls.py work_dirs/lavit-t_synth-cls/epoch_15.pth \\
        --model twin configs/lavit/lavit-t-allattn_synth-cls.py \\
                     work_dirs/lavit-t-allattn_synth-cls/epoch_15.pth \\
        --num-images 64 --out-dir work_dirs/saturation
    python tools/analysis_tools/vis_attention.py CONFIG CHECKPOINT IMAGE --layers 0 1 4 5 --out attn.png
"""
import argparse
import os
import os.path as osp
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F

from mmlavit.analysis.models import build_model
from mmlavit.analysis.report import write_table


def find_lavit(model: torch.nn.Module):
    """The model's LaViT backbone (the first :class:`~mmlavit.models.LaViT` among its modules)."""
    from mmlavit.models import LaViT
    for m in model.modules():
        if isinstance(m, LaViT):
            return m
    raise ValueError('the model has no LaViT backbone')


@torch.no_grad()
def attention_maps(model: torch.nn.Module, images: torch.Tensor) -> Tuple[List[torch.Tensor], List[Tuple]]:
    """Softmax attention of every layer, ``[(B, h, N, M)]``, and ``(stage, layer, mode)`` per entry.
    ``images`` are already normalised ``(B, 3, H, W)``."""
    backbone = find_lavit(model)
    backbone.record_attention = True
    try:
        backbone(images)
        maps = backbone.attention_maps
    finally:
        backbone.record_attention = False
        backbone.attention_maps = []
    where = [(i, j, blk.mode) for i, stage in enumerate(backbone.stages)
             for j, blk in enumerate(stage.blocks)]
    return maps, where


def _pool_keys(t: torch.Tensor, m: int) -> torch.Tensor:
    """Sum attention mass onto ``m`` keys (square key grids pooled in 2-D, others along the flat axis), so
    maps over different key sets compare as distributions over the same coarse keys."""
    b, h, n, k = t.shape
    if k == m:
        return t
    side, side_m = int(round(k ** 0.5)), int(round(m ** 0.5))
    if side * side != k or side_m * side_m != m:  # pooling the flat index would mix rows of the key grid
        raise ValueError(f'attention maps over {k} and {m} keys: comparing a VA and an LA layer needs '
                         'square key grids; use a square input (e.g. 224 x 224) for the saturation analysis')
    pooled = F.adaptive_avg_pool2d(t.reshape(b * h, n, side, side), side_m).reshape(b, h, n, m)
    return pooled * (k / m)


def successive_similarity(maps: List[torch.Tensor], where: List[Tuple]) -> List[Dict]:
    """Cosine similarity between each layer's map and the previous layer's, within a stage (same token
    counts), per image and head, then averaged. High values = saturated (redundant) attention."""
    out = []
    for k in range(1, len(maps)):
        (s0, _, _), (s1, j, mode) = where[k - 1], where[k]
        if s0 != s1:
            continue
        a, b = maps[k - 1], maps[k]
        if a.shape[1] != b.shape[1]:
            continue
        if a.shape[-1] != b.shape[-1]:  # a pooled-key LA map (G² keys) after a VA map (M keys)
            m = min(a.shape[-1], b.shape[-1])
            a, b = _pool_keys(a, m), _pool_keys(b, m)
        a, b = a.flatten(2), b.flatten(2)
        cos = F.cosine_similarity(a, b, dim=-1)  # (B, h)
        out.append(dict(stage=s1, layer=j, mode=mode, cos=cos.mean().item(), std=cos.std().item()))
    return out


def load_images(cfg, model, n: int) -> torch.Tensor:
    """The first ``n`` images of the config's val set, as the model's data preprocessor hands them on."""
    from mmengine.dataset import pseudo_collate
    scope = cfg.get('default_scope', 'mmpretrain')
    registry = __import__(f'{scope}.registry', fromlist=['DATASETS']).DATASETS
    ds = registry.build(cfg.val_dataloader.dataset)
    batch = pseudo_collate([ds[i] for i in range(min(n, len(ds)))])
    return model.data_preprocessor(batch, False)['inputs']


def saturation_lines(results: Dict[str, List[Dict]]) -> List[str]:
    """Markdown: each model's successive-layer similarity per layer, and its mean."""
    lines = ['| model | stage | layer | mode | cos(prev layer) |', '|---|---|---|---|---|']
    for name, rows in results.items():
        for r in rows:
            lines.append(f'| {name} | {r["stage"] + 1} | {r["layer"] + 1} | {r["mode"].upper()} | '
                         f'{r["cos"]:.3f} ± {r["std"]:.3f} |')
    lines += ['', '| model | mean cos, layers ≥ 2 of each stage |', '|---|---|']
    for name, rows in results.items():
        lines.append(f'| {name} | {sum(r["cos"] for r in rows) / max(len(rows), 1):.3f} |')
    return lines


def saturation_figure(results: Dict[str, List[Dict]], out_png: str) -> None:
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
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def saturation_main(argv=None) -> int:
    """``attention_saturation.py``: a Markdown table and a PNG plot under --out-dir."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', nargs=3, action='append', metavar=('NAME', 'CONFIG', 'CHECKPOINT'),
                   required=True, help="a model to report; CHECKPOINT 'none' = untrained")
    p.add_argument('--num-images', type=int, default=64)
    p.add_argument('--data-root', help="override the first config's val_dataloader.dataset.data_root")
    p.add_argument('--out-dir', default='work_dirs/saturation')
    a = p.parse_args(argv)
    os.makedirs(a.out_dir, exist_ok=True)
    results, images = {}, None
    for name, config, ckpt in a.model:
        cfg, model = build_model(config, None if ckpt == 'none' else ckpt)
        if a.data_root:
            cfg.val_dataloader.dataset.data_root = a.data_root
        if images is None:  # the same images (from the first config's val set) for every model
            images = load_images(cfg, model, a.num_images)
        results[name] = successive_similarity(*attention_maps(model, images))
    write_table(osp.join(a.out_dir, 'saturation.md'), saturation_lines(results))
    saturation_figure(results, osp.join(a.out_dir, 'saturation.png'))
    print(f'wrote {osp.join(a.out_dir, "saturation.md")} and saturation.png')
    return 0


def query_attention(model, maps, where, layer: int, query, hw) -> torch.Tensor:
    """Attention of the query at relative position ``query`` (y, x in 0..1) over the keys of ``layer``
    (mean over heads), upsampled onto an image of size ``hw``: (H, W)."""
    h, w = hw
    s, j, _ = where[layer]
    stride = 4 * 2 ** s
    qh, qw = -(-h // stride), -(-w // stride)
    r = find_lavit(model).stages[s].blocks[j].attn.sr_ratio
    k = maps[layer].shape[-1]
    side = int(round(k ** 0.5))
    grids = [(qh // r, qw // r), (-(-qh // r), -(-qw // r)), (side, side)]  # VA keys, or an LA layer's G x G
    kh, kw = next((g for g in grids if g[0] * g[1] == k), (None, None))
    if kh is None:
        raise ValueError(f'layer {layer} (stage {s}, block {j}): {k} keys fit no key grid of a {qh} x {qw} '
                         f'query grid with reduction {r}; try a square input')
    q = min(int(query[0] * qh), qh - 1) * qw + min(int(query[1] * qw), qw - 1)
    m = maps[layer][0, :, q].mean(0).reshape(1, 1, kh, kw)
    return F.interpolate(m, size=(h, w), mode='nearest')[0, 0]


def vis_main(argv=None) -> int:
    """``vis_attention.py``: one query's attention in chosen layers over the image, one PNG."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('image')
    p.add_argument('--layers', nargs='+', default=['all'],
                   help="indices over all layers of all stages, or 'all'")
    p.add_argument('--query', type=float, nargs=2, default=(0.5, 0.5), metavar=('Y', 'X'),
                   help='the query in relative coordinates (0..1); the image centre by default')
    p.add_argument('--size', type=int, nargs=2, help='resize the image to H W first')
    p.add_argument('--out', default='attention.png')
    a = p.parse_args(argv)
    import mmcv
    import numpy as np
    _, model = build_model(a.config, a.checkpoint)
    img = mmcv.imread(a.image)  # BGR
    if a.size:
        img = mmcv.imresize(img, (a.size[1], a.size[0]))
    x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float()
    inputs = model.data_preprocessor(dict(inputs=[x], data_samples=None), False)['inputs']
    maps, where = attention_maps(model, inputs)
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
        ax.imshow(img[..., ::-1])
        ax.imshow(query_attention(model, maps, where, li, a.query, (h, w)).numpy(), alpha=0.55, cmap='jet')
        ax.plot(a.query[1] * w, a.query[0] * h, 'w+', ms=10)
        ax.set_title(f'stage {s + 1} layer {j + 1} ({mode.upper()})', fontsize=8)
    for ax in axes:
        ax.axis('off')
    fig.tight_layout()
    fig.savefig(a.out, dpi=120)
    plt.close(fig)
    print(f'wrote {a.out}')
    return 0
