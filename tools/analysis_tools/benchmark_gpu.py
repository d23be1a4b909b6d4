# Copyright (c) mmlavit contributors.
"""The backbone table of benchmark_backbones.py on a GPU: fp32, AMP (fp16, bf16) and ``torch.compile``,
with peak memory, forward and training step, models interleaved in one process.

    python tools/analysis_tools/benchmark_gpu.py --out-dir docs/benchmarks/gpu      # on a CUDA machine
    python tools/analysis_tools/benchmark_gpu.py --device cpu --quick --out-dir /tmp/g  # smoke run (tests)

Per model, input and mode: forward ms (best of --repeats interleaved rounds), img/s, forward+backward ms,
peak allocated memory of the training step (CUDA), and whether the training loss and every gradient were
finite. Writes ``benchmark_gpu.md`` (the device named in its first line). Nothing else in the project needs
a GPU.
"""
import argparse
import os
import os.path as osp
import sys
from contextlib import nullcontext

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import benchmark_backbones as bb  # noqa: E402

from experiments import write_table  # noqa: E402

MODELS = ['LaViT-T', 'LaViT-T twin', 'LaViT-S', 'LaViT-B', 'timm PVTv2-b1', 'timm PVTv2-b2', 'timm PVTv2-b3',
          'timm Swin-T']
MODES = ['fp32', 'amp-fp16', 'amp-bf16', 'compile']


def autocast(mode: str, device: str):
    if mode.startswith('amp'):
        dtype = torch.float16 if mode == 'amp-fp16' else torch.bfloat16
        return torch.autocast(device.split(':')[0], dtype=dtype)
    return nullcontext()


def prepare(name, shape, mode, device, backend):
    model = bb.build(name, shape).to(device)
    if hasattr(model, 'init_weights'):
        model.init_weights()
    run = torch.compile(model, backend=backend) if mode == 'compile' else model
    return model, run


def measure(names, shape, mode, device, warmup, repeats, backend):
    bs = bb.BATCH.get(shape[0], 1) if shape[0] == shape[1] else 1
    x = torch.randn(bs, 3, *shape, device=device)
    built = {n: prepare(n, shape, mode, device, backend) for n in names}
    rows = {n: dict(model=n, shape=shape, batch=bs, mode=mode) for n in names}
    for model, _ in built.values():
        model.eval()

    def fwd(run):
        def f():
            with torch.no_grad(), autocast(mode, device):
                run(x)
        return f
    ts = bb.interleaved({n: fwd(run) for n, (_, run) in built.items()}, device, warmup, repeats)
    for n, t in ts.items():
        rows[n].update(fwd=min(t), tput=bs / min(t))
    scaler_ok = {}
    for n, (model, run) in built.items():
        model.train()

        def step(model=model, run=run, n=n):
            with autocast(mode, device):
                out = run(x)
                loss = sum(o.float().mean() for o in out)
                if hasattr(model, 'pop_aux_losses'):
                    loss = loss + sum(model.pop_aux_losses().values())
            loss.backward()
            grads = [p.grad for p in model.parameters() if p.grad is not None]
            scaler_ok[n] = bool(torch.isfinite(loss)) and all(bool(torch.isfinite(g).all()) for g in grads)
            model.zero_grad(set_to_none=True)
        if device.startswith('cuda'):
            torch.cuda.reset_peak_memory_stats()
        t = bb.interleaved({n: step}, device, warmup, repeats)[n]
        rows[n].update(fwdbwd=min(t), finite=scaler_ok[n],
                       peak_mb=torch.cuda.max_memory_allocated() / 2 ** 20 if device.startswith('cuda')
                       else None)
        print(f"{n} {shape} {mode}: fwd {1e3 * rows[n]['fwd']:.1f} ms, fwd+bwd {1e3 * min(t):.1f} ms, "
              f"finite {scaler_ok[n]}", flush=True)
    built.clear()
    bb.release_memory()
    if device.startswith('cuda'):
        torch.cuda.empty_cache()
    return [rows[n] for n in names]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default='cuda')
    p.add_argument('--quick', action='store_true', help='smoke run: 64² and 96×128 inputs, LaViT-T and its '
                   'twin, one round, torch.compile with the aot_eager backend')
    p.add_argument('--models', nargs='+')
    p.add_argument('--shapes', nargs='+', help="default 224 512 800x1344 (--quick: 64 96x128)")
    p.add_argument('--modes', nargs='+', default=MODES, choices=MODES)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--repeats', type=int, default=10)
    p.add_argument('--compile-backend', default='inductor')
    p.add_argument('--out-dir', default='work_dirs/bench_gpu')
    a = p.parse_args(argv)
    if a.device.startswith('cuda') and not torch.cuda.is_available():
        raise SystemExit(
            'no CUDA device here: run on a GPU machine, or use --device cpu --quick for a smoke run')
    if a.quick:
        a.shapes, a.warmup, a.repeats, a.compile_backend = a.shapes or ['64', '96x128'], 1, 1, 'aot_eager'
        a.models = a.models or ['LaViT-T', 'LaViT-T twin']
    a.shapes = a.shapes or ['224', '512', '800x1344']
    names = a.models or MODELS
    if a.device.startswith('cuda'):
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32
        torch.backends.cudnn.allow_tf32 = False
    os.makedirs(a.out_dir, exist_ok=True)
    parse = lambda s: tuple(int(v) for v in s.split('x')) if 'x' in s else (int(s), int(s))  # noqa: E731
    peak = bb.matmul_peak(a.device, n=512 if a.quick else 8192)
    rows = []
    for shape in map(parse, a.shapes):
        for mode in a.modes:
            rows += measure(names, shape, mode, a.device, a.warmup, a.repeats, a.compile_backend)
    lines = [f'Device: {bb.machine(a.device)}; fp32 matmul peak measured in this run '
             f'{peak / 1e12:.2f} TFLOP/s '
             f'(TF32 off); best of {a.repeats} interleaved rounds after {a.warmup} warm-up; compile backend '
             f'{a.compile_backend}.', '',
             '| model | input | batch | mode | fwd ms | img/s | fwd+bwd ms | peak MB (train step) '
             '| finite loss/grads |',
             '|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        pk = f"{r['peak_mb']:.0f}" if r['peak_mb'] is not None else '—'
        lines.append(f"| {r['model']} | {r['shape'][0]}×{r['shape'][1]} | {r['batch']} | {r['mode']} | "
                     f"{1e3 * r['fwd']:.2f} | {r['tput']:.1f} | {1e3 * r['fwdbwd']:.2f} | {pk} | "
                     f"{r['finite']} |")
    by = {(r['model'], r['shape'], r['mode']): r for r in rows}
    lines += ['', '| speed-up (forward) | mode | ' + ' | '.join(f'{s}' for s in a.shapes) + ' |',
              '|---|---|' + '---|' * len(a.shapes)]
    for x, y in [('LaViT-T', 'LaViT-T twin'), ('LaViT-T', 'timm PVTv2-b1'), ('LaViT-S', 'timm PVTv2-b2'),
                 ('LaViT-B', 'timm PVTv2-b3'), ('LaViT-S', 'timm Swin-T')]:
        for mode in a.modes:
            cells = [by[(y, s, mode)]['fwd'] / by[(x, s, mode)]['fwd']
                     if (x, s, mode) in by and (y, s, mode) in by else None for s in map(parse, a.shapes)]
            if any(c is not None for c in cells):
                lines.append(f'| {x} over {y} | {mode} | '
                             + ' | '.join('—' if c is None else f'{c:.2f}×' for c in cells) + ' |')
    write_table(osp.join(a.out_dir, 'benchmark_gpu.md'), lines)
    return 0 if all(r['finite'] for r in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
