"""Backbone speed and memory side by side, in one process with interleaved rounds: LaViT-T/S/B (and their
all-attention twins), timm's and mmdet's PVTv2-b1/b2/b3 and Swin-T, at 224² (batch 8), 512² and 800×1344;
the machine's fp32 matmul peak measured in the same run; and the VA vs LA layer of every LaViT stage.

    python tools/analysis_tools/benchmark_backbones.py --out-dir work_dirs/bench_backbones
    python tools/analysis_tools/benchmark_backbones.py --models LaViT-T 'timm PVTv2-b1' --shapes 224

Per model and input: forward latency (best and median of --repeats rounds; in each round every model runs
once, so background load hits all alike), throughput, the share of the matmul peak (2·MACs / time / peak),
forward+backward latency and the bytes autograd saves for backward (at --train-shapes), and multiply-
accumulates (mmengine's counter plus fused attention, :func:`mmlavit.models.backbones.flops.count_flops`).
Writes ``benchmark_backbones.md``, ``va_vs_la_layers.md`` and two plots under --out-dir. timm is needed for
the timm peers only (``pip install timm==1.0.31``). For CUDA, AMP and torch.compile see benchmark_gpu.py.

On a 24 GiB machine give one shape per process (``--shapes 224``, then 512, then 800x1344): all the default
models at 224² and 512² in one process peak above 24 GiB. CPU times depend on glibc's allocator state (tensors
of 32 MiB and more are mapped fresh, and page-faulted, on every call), so a model timed in a fresh process can
be much slower than here, where every model is timed after the FLOP counter's traced forward; reversing
``--models`` shows how much a ratio moves (docs/benchmarks.md).
"""
import argparse
import json
import os
import os.path as osp
from typing import List

import torch

from mmlavit.analysis.models import BACKBONES, AttentionLayer, build_backbone, count_params
from mmlavit.analysis.report import write_table
from mmlavit.analysis.timing import (best_median, interleaved, keeps_torch_threads, machine, matmul_peak,
                                     release_memory, saved_activation_bytes)
from mmlavit.models.backbones.flops import count_flops

BATCH = {224: 8}  # ImageNet-style batches at 224², one image at the larger sizes
# the default table: LaViT-X (the paper's softmax chain), its all-VA twin and our chain, and the peers
MODELS = ['LaViT-T', 'LaViT-T twin', 'LaViT-T scores', 'LaViT-S', 'LaViT-B', 'timm PVTv2-b1', 'timm PVTv2-b2',
          'timm PVTv2-b3', 'timm Swin-T', 'mmdet PVTv2-b1', 'mmdet PVTv2-b2', 'mmdet PVTv2-b3',
          'mmdet Swin-T']
# (LaViT, peer family): the headline ratio is against the fastest implementation of the peer
PAIRS = [('LaViT-T', 'PVTv2-b1'), ('LaViT-S', 'PVTv2-b2'), ('LaViT-B', 'PVTv2-b3'), ('LaViT-S', 'Swin-T')]


def parse_shape(s: str):
    """``'512'`` -> (512, 512); ``'800x1344'`` -> (800, 1344)."""
    h, _, w = s.partition('x')
    return int(h), int(w or h)


def default_batch(shape) -> int:
    """8 at 224² (ImageNet-style), else 1."""
    return BATCH.get(shape[0], 1) if shape[0] == shape[1] else 1


def check_names(names) -> None:
    for n in names:
        if n not in BACKBONES:
            raise SystemExit(f'unknown model {n!r}; known: {BACKBONES}')


def build_all(names, shape, device):
    """Every backbone of ``names`` on ``device``, in eval mode."""
    models = {}
    for n in names:
        models[n] = build_backbone(n, shape).to(device)
        models[n].eval()  # not chained: mmdet's Swin overrides train() without returning the module
    return models


def train_step(model, x):
    """Forward + backward of the sum of the feature maps' means (and LaViT's aux losses popped)."""
    def step():
        out = model(x)
        sum(o.float().mean() for o in out).backward()
        if hasattr(model, 'pop_aux_losses'):
            model.pop_aux_losses()
    return step


def measure_shape(names, shape, train, device, warmup, repeats, peak, batch=None) -> List[dict]:
    """Every model at one input size, interleaved: a list of row dicts."""
    bs = batch or default_batch(shape)
    models = build_all(names, shape, device)
    x = torch.randn(bs, 3, *shape, device=device)
    rows = {n: dict(model=n, shape=shape, batch=bs, params=count_params(m)) for n, m in models.items()}
    for n, m in models.items():
        rows[n]['gmacs'] = count_flops(m.cpu(), (torch.randn(1, 3, *shape),)) / 1e9
        m.to(device)
    with torch.no_grad():
        fwd = interleaved({n: (lambda m=m: m(x)) for n, m in models.items()}, warmup, repeats, device)
    for n, ts in fwd.items():
        r = rows[n]
        r['fwd'], r['fwd_med'] = best_median(ts)
        r['tput'] = bs / r['fwd']
        r['peak_share'] = 2 * r['gmacs'] * 1e9 * bs / r['fwd'] / peak
    release_memory(device)
    if train:
        for m in models.values():
            m.train()
        step = interleaved({n: train_step(m, x) for n, m in models.items()}, warmup, repeats, device)
        for n, m in models.items():
            rows[n]['fwdbwd'], rows[n]['fwdbwd_med'] = best_median(step[n])
            weights = [*m.parameters(), *m.buffers()]
            rows[n]['saved_mb'] = saved_activation_bytes(lambda: m(x), weights) / 2 ** 20
            if hasattr(m, 'pop_aux_losses'):
                m.pop_aux_losses()
            m.zero_grad(set_to_none=True)
    for n in names:
        r = rows[n]
        fb = f", fwd+bwd {1e3 * r['fwdbwd']:.1f} ms" if train else ''
        print(f"{n} {shape} bs{bs}: fwd {1e3 * r['fwd']:.1f} ms ({r['tput']:.2f} img/s, "
              f"{100 * r['peak_share']:.0f}% of peak), {r['gmacs']:.2f} GMACs/img{fb}",
              flush=True)
    models.clear()
    release_memory(device)
    return [rows[n] for n in names]


def sweep(names, shapes, device, warmup, repeats) -> List[dict]:
    """Forward latency (eval mode, batch 1) of every model at each input size, the models interleaved at
    each size (the latency-vs-resolution figure of ``make_benchmark_page.py --sweep``)."""
    rows = []
    for shape in shapes:
        models = build_all(names, shape, device)
        x = torch.randn(1, 3, *shape, device=device)
        with torch.no_grad():
            ts = interleaved({n: (lambda m=m: m(x)) for n, m in models.items()}, warmup, repeats, device)
        for n, t in ts.items():
            best, med = best_median(t)
            rows.append(dict(model=n, shape=list(shape), fwd=best, fwd_med=med))
            print(f'{n} {shape[0]}x{shape[1]}: fwd {1e3 * best:.0f} ms', flush=True)
        models.clear()
        release_memory(device)
    return rows


def layer_table(shapes, device, warmup, repeats):
    """VA vs LA layer of each LaViT stage (the same layers in T, S and B: widths, heads and spatial
    reductions agree; only depths and FFN widths differ): best-of time and MACs."""
    from mmlavit.models import LaViT
    from mmlavit.models.backbones.lavit_attention import LaViTAttention
    ref = LaViT('tiny')
    dims, heads, srs = ref.arch['embed_dims'], ref.arch['num_heads'], ref.arch['sr_ratios']
    lines = ['| input | stage | N queries | M keys (VA) / pooled (LA) | VA ms | LA ms | VA/LA time '
             '| VA/LA MACs |',
             '|---|---|---|---|---|---|---|---|']
    ratios = []
    for shape in shapes:
        bs = default_batch(shape)
        for i in range(4):
            hw = (-(-shape[0] // (4 * 2 ** i)), -(-shape[1] // (4 * 2 ** i)))
            n = hw[0] * hw[1]
            k = (hw[0] // srs[i], hw[1] // srs[i]) if srs[i] > 1 else hw
            x = torch.randn(bs, n, dims[i], device=device)
            # the LA layer's input map: what the VA layer before it hands on (pooled onto the key grid)
            g = ref.stages[0].blocks[1].attn.key_grid
            prev = torch.randn(bs, heads[i], n, g[0] * g[1], device=device)
            va = AttentionLayer(LaViTAttention(dims[i], heads[i], srs[i], 'va'), hw).to(device).eval()
            la = AttentionLayer(LaViTAttention(dims[i], heads[i], srs[i], 'la'), hw, g).to(device).eval()
            with torch.no_grad():
                ts = interleaved({'va': lambda: va(x), 'la': lambda: la(x, prev)}, warmup, repeats, device)
            t_va, t_la = min(ts['va']), min(ts['la'])
            f_va = count_flops(va.cpu(), (x.cpu(),))
            f_la = count_flops(la.cpu(), (x.cpu(), prev.cpu()))
            ratios.append(t_va / t_la)
            lines.append(f'| {shape[0]}×{shape[1]} (batch {bs}) | {i} | {n} | {k[0] * k[1]} / '
                         f'{g[0] * g[1]} | '
                         f'{1e3 * t_va:.2f} | {1e3 * t_la:.2f} | {t_va / t_la:.2f}× | {f_va / f_la:.2f}× |')
            print(lines[-1], flush=True)
    return lines, ratios


def ratio_lines(rows, shapes) -> List[str]:
    by = {(r['model'], r['shape']): r for r in rows}
    cols = ' | '.join(f'{s[0]}×{s[1]}' for s in shapes)
    lines = [f'| speed-up (forward, best of the rounds) | {cols} |',
             '|---|' + '---|' * len(shapes)]

    def cell(a, b, s, key='fwd'):
        return f"{by[(b, s)][key] / by[(a, s)][key]:.2f}×" if (a, s) in by and (b, s) in by else '—'
    for size in 'TSB':
        if any((f'LaViT-{size} twin', s) in by for s in shapes):
            lines.append(f'| LaViT-{size} over its all-attention twin | '
                         + ' | '.join(cell(f'LaViT-{size}', f'LaViT-{size} twin', s) for s in shapes) + ' |')
    for size in 'TSB':
        if any((f'LaViT-{size} scores', s) in by for s in shapes):
            lines.append(f"| LaViT-{size} with our chain (la_chain='scores') over the default "
                         "(the paper's) | "
                         + ' | '.join(cell(f'LaViT-{size} scores', f'LaViT-{size}', s) for s in shapes)
                         + ' |')
    for a, peer in PAIRS:
        for s_impl in ('timm', 'mmdet'):
            if any((f'{s_impl} {peer}', s) in by for s in shapes):
                lines.append(f'| {a} over {s_impl} {peer} | '
                             + ' | '.join(cell(a, f'{s_impl} {peer}', s) for s in shapes) + ' |')
        fastest = []
        for s in shapes:
            cands = [(by[(f'{i} {peer}', s)]['fwd'], i)
                     for i in ('timm', 'mmdet') if (f'{i} {peer}', s) in by]
            fastest.append(f"{min(cands)[0] / by[(a, s)]['fwd']:.2f}× ({min(cands)[1]})"
                           if cands and (a, s) in by else '—')
        lines.append(f'| **{a} over the fastest {peer}** | ' + ' | '.join(fastest) + ' |')
    train = sorted({r['shape'] for r in rows if 'fwdbwd' in r})
    if train:
        cols = ' | '.join(f'{s[0]}×{s[1]}' for s in train)
        lines += ['', f'| speed-up (forward + backward) | {cols} |',
                  '|---|' + '---|' * len(train)]
        for a, peer in PAIRS[:3] + [('LaViT-T', 'LaViT-T twin')]:
            for b in ([peer] if peer.startswith('LaViT') else [f'timm {peer}', f'mmdet {peer}']):
                if any((b, s) in by for s in train):
                    lines.append(f'| {a} over {b} | ' + ' | '.join(cell(a, b, s, 'fwdbwd')
                                 for s in train) + ' |')
    return lines


def plot(rows, out_dir):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    names = list(dict.fromkeys(r['model'] for r in rows))

    def loglog(size, xlabel, ylabel, draw, fname):  # one log-log figure, one series per model
        fig, ax = plt.subplots(figsize=size)
        for n in names:
            draw(ax, n, [r for r in rows if r['model'] == n])
        ax.set_xscale('log')
        ax.set_yscale('log')
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
        ax.grid(alpha=.3)
        fig.tight_layout()
        fig.savefig(osp.join(out_dir, fname), dpi=120)
        plt.close(fig)

    loglog((7, 4.5), 'input pixels (thousands)', 'forward throughput (img/s)',
           lambda ax, n, rs: ax.plot([r['shape'][0] * r['shape'][1] / 1e3 for r in rs],
                                     [r['tput'] for r in rs],
                                     marker='o', label=n, linestyle='--' if 'twin' in n else '-'),
           'throughput_vs_resolution.png')
    loglog((6, 4.5), 'GMACs per image', 'forward ms per image',
           lambda ax, n, rs: ax.scatter([r['gmacs'] for r in rs], [1e3 * r['fwd'] / r['batch'] for r in rs],
                                        label=n, marker='x' if 'twin' in n else 'o'),
           'flops_vs_time.png')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--models', nargs='+', default=MODELS, help=f'from {BACKBONES}')
    p.add_argument('--shapes', nargs='+', default=['224', '512', '800x1344'])
    p.add_argument('--train-shapes', nargs='+', default=['224', '512'], help='also time forward+backward')
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--batch', type=int, help='batch of every input size (default: 8 at 224², else 1)')
    p.add_argument('--threads', type=int, default=2, help='torch intra-op threads (the issue measures 2)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--skip-layers', action='store_true')
    p.add_argument('--sweep', nargs='+', metavar='SIZE',
                   help='only a forward-latency sweep over these input sizes (batch 1), to sweep.json')
    p.add_argument('--out-dir', default='work_dirs/bench_backbones')
    return p.parse_args(argv)


@keeps_torch_threads
def main(argv=None) -> int:
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    os.makedirs(a.out_dir, exist_ok=True)
    shapes = [parse_shape(s) for s in a.shapes]
    train_shapes = {parse_shape(s) for s in a.train_shapes}
    check_names(a.models)
    if a.sweep:
        rows = sweep(a.models, [parse_shape(s) for s in a.sweep], a.device, a.warmup, a.repeats)
        with open(osp.join(a.out_dir, 'sweep.json'), 'w') as f:
            json.dump(dict(machine=machine(a.device), warmup=a.warmup, repeats=a.repeats, rows=rows), f,
                      indent=1)
        return 0
    peak = matmul_peak(a.device)
    print(f'fp32 matmul peak: {peak / 1e9:.0f} GFLOP/s', flush=True)
    rows = []
    for shape in shapes:
        rows += measure_shape(a.models, shape, shape in train_shapes, a.device, a.warmup, a.repeats, peak,
                              a.batch)
    peak = max(peak, matmul_peak(a.device))  # again at the end: the better of the two
    for r in rows:
        r['peak_share'] = 2 * r['gmacs'] * 1e9 * r['batch'] / r['fwd'] / peak
    head = [f'Machine: {machine(a.device)}; device {a.device}; fp32 matmul peak measured in this run: '
            f'**{peak / 1e9:.0f} GFLOP/s** (2048² products). Forward in eval mode, best of {a.repeats} '
            'interleaved '
            f'rounds after {a.warmup} warm-up (median in brackets). MACs = multiply-accumulates per image '
            '(mmengine + fused attention); "peak" = 2·MACs/time over the matmul peak; "saved act." = '
            'bytes of the activations autograd keeps for backward (each storage once, weights excluded).', '',
            '| model | params (M) | input | batch | GMACs/img | fwd ms [median] | img/s | peak '
            '| fwd+bwd ms [median] '
            '| saved act. MB |', '|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        fb = f"{1e3 * r['fwdbwd']:.0f} [{1e3 * r['fwdbwd_med']:.0f}]" if 'fwdbwd' in r else '—'
        sv = f"{r['saved_mb']:.0f}" if 'saved_mb' in r else '—'
        head.append(f"| {r['model']} | {r['params']:.1f} | {r['shape'][0]}×{r['shape'][1]} | {r['batch']} | "
                    f"{r['gmacs']:.2f} | {1e3 * r['fwd']:.0f} [{1e3 * r['fwd_med']:.0f}] | {r['tput']:.2f} | "
                    f"{100 * r['peak_share']:.0f}% | {fb} | {sv} |")
    head += [''] + ratio_lines(rows, shapes)
    write_table(osp.join(a.out_dir, 'benchmark_backbones.md'), head)
    plot(rows, a.out_dir)
    if not a.skip_layers:
        lines, ratios = layer_table(shapes, a.device, a.warmup, max(a.repeats, 5))
        lines += ['', f'LA layer speed-up over the VA layer: min {min(ratios):.2f}×, max {max(ratios):.2f}× '
                  'over '
                  f'{len(ratios)} (input, stage) pairs (VA as in the all-attention twin: followed by VA).']
        write_table(osp.join(a.out_dir, 'va_vs_la_layers.md'), lines)
    return 0
