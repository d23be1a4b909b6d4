# Copyright (c) mmlavit contributors.
"""Backbone speed/memory side by side, in one process: LaViT-T/S/B, their all-attention twins, mmdet's
PVTv2-b1/b2/b3 and Swin-T, at 224², 512² and 800×1333; and the VA vs LA layer of every LaViT stage.

    python tools/analysis_tools/benchmark_backbones.py --out-dir work_dirs/bench_backbones
    python tools/analysis_tools/benchmark_backbones.py --models LaViT-T PVTv2-b1 --shapes 224 --repeats 5

Per model and input: forward latency (median and IQR of --repeats timed runs after --warmup), throughput
(img/s), forward+backward latency (where --train-shapes), the bytes of activations saved for backward, and
FLOPs (mmengine.analysis, multiply-accumulates). On CUDA also the peak allocated memory. Writes
``benchmark_backbones.md``, ``throughput_vs_resolution.png``, ``flops_vs_time.png`` and
``va_vs_la_layers.md`` under --out-dir. CPU by default; ``--device cuda`` when present.
"""
import argparse
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys

import torch

import mmlavit  # noqa: F401
from mmlavit.models import LaViT
from mmlavit.models.backbones.lavit import LaViTAttention
from experiments import saved_activation_bytes, time_runs, write_table

BATCH = {224: 8, 512: 1, 800: 1}  # typical: ImageNet-style batches at 224², one image at detection sizes


def build(name: str):
    if name.startswith('LaViT'):
        arch, twin = name.split('-')[1][0].lower(), name.endswith('twin')
        return LaViT(arch, all_attention=twin, drop_path_rate=0.)
    from mmdet.models.backbones import PyramidVisionTransformerV2, SwinTransformer
    if name.startswith('PVTv2'):
        layers = {'b1': [2, 2, 2, 2], 'b2': [3, 4, 6, 3], 'b3': [3, 4, 18, 3]}[name.split('-')[1]]
        return PyramidVisionTransformerV2(embed_dims=64, num_layers=layers)
    if name == 'Swin-T':
        return SwinTransformer(embed_dims=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], window_size=7)
    raise KeyError(name)


MODELS = ['LaViT-T', 'LaViT-T twin', 'LaViT-S', 'LaViT-S twin', 'LaViT-B', 'LaViT-B twin', 'PVTv2-b1', 'PVTv2-b2',
          'PVTv2-b3', 'Swin-T']


def timeit(fn, device, warmup, repeats):
    """(median, IQR, min) of the timed runs."""
    ts = time_runs(fn, warmup, repeats, device)
    q = statistics.quantiles(ts, n=4) if len(ts) >= 2 else [ts[0]] * 3
    return statistics.median(ts), q[2] - q[0], min(ts)


def release_memory() -> None:
    """Drop garbage and hand freed heap pages back to the OS between measurements."""
    import ctypes
    import gc
    gc.collect()
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


def rss_gb() -> float:
    try:
        return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2 ** 30
    except (OSError, ValueError):
        return float('nan')


def flops(model, shape):
    from mmengine.analysis import get_model_complexity_info
    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().setLevel('ERROR')
    return get_model_complexity_info(model, input_shape=(3, *shape), show_table=False, show_arch=False)['flops']


def machine(device):
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(':', 1)[1].strip() for line in open('/proc/cpuinfo') if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    desc = f'{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads'
    if device.startswith('cuda'):
        desc += f', {torch.cuda.get_device_name()}'
    return desc


def layer_table(shapes, device, warmup, repeats):
    """VA vs LA layer of each LaViT-T stage: time, FLOPs and score-map bytes."""
    from mmengine.analysis import FlopAnalyzer

    class First(torch.nn.Module):
        def __init__(self, attn, hw, prev_k_hw=None):
            super().__init__()
            self.attn, self.hw, self.prev_k_hw = attn, hw, prev_k_hw

        def forward(self, x, prev=None):
            return self.attn(x, self.hw, prev, None, self.prev_k_hw)[0]

    ref = LaViT('tiny')
    dims, heads, srs = ref.arch['embed_dims'], ref.arch['num_heads'], ref.arch['sr_ratios']
    lines = ['| input | stage | N queries | M keys (VA) / pooled (LA) | VA ms | LA ms | VA/LA time | VA/LA FLOPs | '
             'score map MB VA / LA |', '|---|---|---|---|---|---|---|---|---|']
    ratios = []
    for shape in shapes:
        for i in range(4):
            hw = (-(-shape[0] // (4 * 2 ** i)), -(-shape[1] // (4 * 2 ** i)))
            n = hw[0] * hw[1]
            k = (hw[0] // srs[i], hw[1] // srs[i]) if srs[i] > 1 else hw
            x = torch.randn(1, n, dims[i], device=device)
            prev = torch.randn(1, heads[i], n, k[0] * k[1], device=device)
            va = First(LaViTAttention(dims[i], heads[i], srs[i], 'va'), hw).to(device).eval()
            la = First(LaViTAttention(dims[i], heads[i], srs[i], 'la'), hw, k).to(device).eval()
            g = la.attn.key_grid[0] * la.attn.key_grid[1]
            with torch.no_grad():
                t_va = timeit(lambda: va(x), device, warmup, repeats)[2]  # best of N: robust to background load
                t_la = timeit(lambda: la(x, prev), device, warmup, repeats)[2]
            f_va = FlopAnalyzer(va, (x,)).unsupported_ops_warnings(False).total()
            f_la = FlopAnalyzer(la, (x, prev)).unsupported_ops_warnings(False).total()
            mb_va, mb_la = heads[i] * n * k[0] * k[1] * 4 / 2 ** 20, heads[i] * n * g * 4 / 2 ** 20
            ratios.append(t_va / t_la)
            lines.append(f'| {shape[0]}×{shape[1]} | {i} | {n} | {k[0] * k[1]} / {g} | {1e3 * t_va:.2f} | '
                         f'{1e3 * t_la:.2f} | {t_va / t_la:.2f}× | {f_va / f_la:.2f}× | {mb_va:.1f} / {mb_la:.1f} |')
            print(lines[-1], flush=True)
    return lines, ratios


def measure_model(name, shapes, train_shapes, dev, warmup, repeats):
    """Every measurement of one model: a list of row dicts."""
    rows = []
    model = build(name).to(dev)
    model.init_weights()
    params = sum(q.numel() for q in model.parameters()) / 1e6
    for shape in shapes:
        bs = BATCH.get(shape[0], 1)
        x = torch.randn(bs, 3, *shape, device=dev)
        model.eval()
        if dev.startswith('cuda'):
            torch.cuda.reset_peak_memory_stats()
        with torch.no_grad():
            t_fwd, iqr, t_min = timeit(lambda: model(x), dev, warmup, repeats)
        peak = torch.cuda.max_memory_allocated() / 2 ** 20 if dev.startswith('cuda') else None
        r = dict(model=name, shape=shape, batch=bs, params=params, fwd=t_fwd, fwd_iqr=iqr, fwd_min=t_min,
                 tput=bs / t_fwd, gflops=flops(model.cpu(), shape) / 1e9, peak=peak)
        model.to(dev)
        if shape in train_shapes:
            model.train()

            def step():
                out = model(x)
                sum(o.float().mean() for o in out).backward()
            r['fwdbwd'], r['fwdbwd_iqr'], r['fwdbwd_min'] = timeit(step, dev, warmup, repeats)
            r['saved_mb'] = saved_activation_bytes(lambda: model(x)) / 2 ** 20
            model.zero_grad(set_to_none=True)
            del step
        rows.append(r)
        del x
        release_memory()
        print(f"{name} {shape} bs{bs}: fwd {1e3 * t_fwd:.1f} ms ({r['tput']:.1f} img/s), "
              f"{r['gflops']:.2f} GFLOPs/img" + (f", fwd+bwd {1e3 * r['fwdbwd']:.1f} ms" if 'fwdbwd' in r else '')
              + f' [rss {rss_gb():.1f} GB]', flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--models', nargs='+', default=MODELS)
    p.add_argument('--shapes', nargs='+', default=['224', '512', '800x1333'])
    p.add_argument('--train-shapes', nargs='+', default=['224', '512'], help='also time forward+backward')
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--skip-layers', action='store_true')
    p.add_argument('--out-dir', default='work_dirs/bench_backbones')
    p.add_argument('--no-isolate', action='store_true', help='measure every model in this process')
    p.add_argument('--worker', help=argparse.SUPPRESS)
    p.add_argument('--worker-out', help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    os.makedirs(a.out_dir, exist_ok=True)
    parse = lambda s: tuple(int(v) for v in s.split('x')) if 'x' in s else (int(s), int(s))  # noqa: E731
    shapes = [parse(s) for s in a.shapes]
    train_shapes = {parse(s) for s in a.train_shapes}
    dev = a.device
    rows = []
    if a.worker:  # one model in this process (see --no-isolate)
        rows = measure_model(a.worker, shapes, train_shapes, dev, a.warmup, a.repeats)
        with open(a.worker_out, 'w') as f:
            json.dump(rows, f)
        return 0
    for name in a.models:
        if a.no_isolate:
            rows += measure_model(name, shapes, train_shapes, dev, a.warmup, a.repeats)
            continue
        # each model in a child process of this run, one after the other: the parent's resident memory
        # otherwise grew by ~0.5 GB per measurement and a full run was OOM-killed on a 24 GiB machine
        out = osp.join(a.out_dir, '.worker.json')
        cmd = [sys.executable, __file__, '--worker', name, '--worker-out', out, '--device', dev, '--warmup',
               str(a.warmup), '--repeats', str(a.repeats), '--shapes', *a.shapes, '--train-shapes', *a.train_shapes]
        res = subprocess.run(cmd, capture_output=True, text=True)
        sys.stdout.write('\n'.join(l for l in res.stdout.splitlines() if name in l) + '\n')
        if res.returncode:
            raise RuntimeError(f'{name} failed:\n{res.stderr[-2000:]}')
        with open(out) as f:
            rows += [dict(r, shape=tuple(r['shape'])) for r in json.load(f)]
        os.remove(out)

    head = [f'Machine: {machine(dev)}; device {dev}; median of {a.repeats} runs after {a.warmup} warm-up (IQR in '
            'brackets); FLOPs = multiply-accumulates per image (mmengine.analysis); "saved act." = bytes autograd '
            'keeps for backward.', '',
            '| model | params (M) | input | batch | GFLOPs/img | fwd ms [IQR] | img/s | fwd+bwd ms [IQR] | saved act. MB |'
            + (' peak MB |' if dev.startswith('cuda') else ''),
            '|---|---|---|---|---|---|---|---|---|' + ('---|' if dev.startswith('cuda') else '')]
    for r in rows:
        fb = f"{1e3 * r['fwdbwd']:.0f} [{1e3 * r['fwdbwd_iqr']:.0f}]" if 'fwdbwd' in r else '—'
        sv = f"{r['saved_mb']:.0f}" if 'saved_mb' in r else '—'
        head.append(f"| {r['model']} | {r['params']:.1f} | {r['shape'][0]}×{r['shape'][1]} | {r['batch']} | "
                    f"{r['gflops']:.2f} | {1e3 * r['fwd']:.0f} [{1e3 * r['fwd_iqr']:.0f}] | {r['tput']:.2f} | {fb} | {sv} |"
                    + (f" {r['peak']:.0f} |" if r['peak'] is not None else ''))
    # headline ratios: LaViT vs twin, and LaViT vs PVTv2 of comparable FLOPs
    by = {(r['model'], r['shape']): r for r in rows}
    head += ['', 'Speed-ups from the best of the timed runs (the minimum is the least disturbed by other load):', '',
             '| ratio | ' + ' | '.join(f'{s[0]}×{s[1]}' for s in shapes) + ' |', '|---|' + '---|' * len(shapes)]
    for a_, b_ in [('LaViT-T', 'LaViT-T twin'), ('LaViT-S', 'LaViT-S twin'), ('LaViT-B', 'LaViT-B twin'),
                   ('LaViT-T', 'PVTv2-b1'), ('LaViT-S', 'PVTv2-b2'), ('LaViT-B', 'PVTv2-b3'), ('LaViT-S', 'Swin-T')]:
        if all((m, s) in by for m in (a_, b_) for s in shapes):
            head.append(f'| {a_} speed-up over {b_} (fwd) | '
                        + ' | '.join(f"{by[(b_, s)]['fwd_min'] / by[(a_, s)]['fwd_min']:.2f}×" for s in shapes) + ' |')
    write_table(osp.join(a.out_dir, 'benchmark_backbones.md'), head)
    plot(rows, shapes, a.out_dir)
    if not a.skip_layers:
        lines, ratios = layer_table(shapes, dev, a.warmup, max(a.repeats, 5))
        lines.append('')
        lines.append(f'LA layer speed-up over the VA layer: min {min(ratios):.2f}×, max {max(ratios):.2f}× '
                     f'over {len(ratios)} (input, stage) pairs.')
        write_table(osp.join(a.out_dir, 'va_vs_la_layers.md'), lines)
    return 0


def plot(rows, shapes, out_dir):
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

    loglog((7, 4.5), 'input pixels (thousands)', 'forward throughput (img/s)',
           lambda ax, n, rs: ax.plot([r['shape'][0] * r['shape'][1] / 1e3 for r in rs], [r['tput'] for r in rs],
                                     marker='o', label=n, linestyle='--' if 'twin' in n else '-'),
           'throughput_vs_resolution.png')
    loglog((6, 4.5), 'GFLOPs per image', 'forward ms per image',
           lambda ax, n, rs: ax.scatter([r['gflops'] for r in rs], [1e3 * r['fwd'] / r['batch'] for r in rs],
                                        label=n, marker='x' if 'twin' in n else 'o'),
           'flops_vs_time.png')


if __name__ == '__main__':
    sys.exit(main())
