"""Params and FLOPs of the LaViT variants (mmengine.analysis), beside the paper's table.

    python tools/analysis_tools/get_flops.py                      # every variant + all-attention twins, 224²
    python tools/analysis_tools/get_flops.py --shape 800 1333 --archs tiny
    python tools/analysis_tools/get_flops.py --config configs/lavit/lavit-t_8xb128_in1k.py

FLOPs are multiply-accumulates, as the paper (and PVT/Swin) count them, by
:func:`mmlavit.models.backbones.flops.count_flops` (mmengine's counter, which would count
``F.scaled_dot_product_attention`` as zero, plus fused attention). Params include a 1000-class linear head as
in the paper.
"""
import argparse

import torch

from mmlavit.analysis.models import build_model

PAPER = {'tiny': (10.9, 1.6), 'small': (22.4, 3.3), 'base': (39.6, 6.1)}


def complexity(backbone: torch.nn.Module, shape, head_classes: int = 1000):
    """(params in M, GMACs) of ``backbone`` at input ``shape`` (H, W) with a ``head_classes`` linear head."""
    from mmengine.logging import MMLogger

    from mmlavit.models.backbones.flops import count_flops
    MMLogger.get_current_instance().setLevel('ERROR')  # unsupported elementwise ops are not FLOPs here
    backbone.eval()
    macs = count_flops(backbone, (torch.randn(1, 3, *shape),))
    last = backbone.out_channels[-1]
    params = sum(p.numel() for p in backbone.parameters()) + (last * head_classes + head_classes)
    return params / 1e6, (macs + last * head_classes) / 1e9


def rows(archs, shape, twins=True):
    """A row per LaViT arch (and its all-attention twin) with the paper's numbers where it has them."""
    from mmlavit.models import LaViT
    out = []
    for arch in archs:
        for twin in ((False, True) if twins else (False,)):
            m = LaViT(arch, out_indices=(3,), all_attention=twin)
            p, f = complexity(m, shape)
            ref = PAPER.get(arch) if not twin else None
            out.append(dict(model=f'LaViT-{arch[0].upper()}' + (' all-attention twin' if twin else ''),
                            params=p, flops=f, paper=ref))
    return out


def markdown(rs, shape):
    lines = [f'| model | params (M) | FLOPs (G) @ {shape[0]}×{shape[1]} | paper params / FLOPs '
             '| Δ params | Δ FLOPs |',
             '|---|---|---|---|---|---|']
    for r in rs:
        if r['paper'] and tuple(shape) == (224, 224):
            pp, pf = r['paper']
            ref = f'{pp} / {pf}'
            dp, df = f'{100 * (r["params"] - pp) / pp:+.1f}%', f'{100 * (r["flops"] - pf) / pf:+.1f}%'
        else:
            ref, dp, df = '—', '—', '—'
        lines.append(f'| {r["model"]} | {r["params"]:.2f} | {r["flops"]:.2f} | {ref} | {dp} | {df} |')
    return '\n'.join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--archs', nargs='+', default=['tiny', 'small', 'base'])
    p.add_argument('--shape', type=int, nargs='+', default=[224, 224], help='H W (or one side)')
    p.add_argument('--no-twins', action='store_true', help='skip the all-attention twins')
    p.add_argument('--config', help='instead: the backbone of this config (a file or an mmlavit:: name)')
    return p.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    shape = (a.shape[0], a.shape[-1])
    if a.config:
        _, model = build_model(a.config)
        params, flops = complexity(model.backbone, shape)
        print(f'{a.config}: backbone + 1000-class head: {params:.2f} M params, {flops:.2f} GFLOPs @ {shape}')
        return 0
    print(markdown(rows(a.archs, shape, not a.no_twins), shape))
    return 0
