"""The backbone table of :mod:`mmlavit.analysis.bench_backbones` on a GPU: fp32, AMP (fp16, bf16) and
``torch.compile``, with peak memory, forward and training step, models interleaved in one process.

    python tools/analysis_tools/benchmark_gpu.py --out-dir docs/benchmarks/gpu      # on a CUDA machine
    python tools/analysis_tools/benchmark_gpu.py --device cpu --quick --out-dir /tmp/g  # smoke run (tests)

Per model, input and mode: forward ms (best of --repeats interleaved rounds), img/s, forward+backward ms
(interleaved too), the peak memory of one training step (CUDA's peak allocation; on the CPU the growth of the
process RSS), and whether the training loss and every gradient were finite. Writes ``benchmark_gpu.md`` (the
device named in its first line). Nothing else in the project needs a GPU.
"""
import argparse
import os
import os.path as osp
from contextlib import nullcontext

import torch

from mmlavit.analysis.bench_backbones import check_names, default_batch, parse_shape
from mmlavit.analysis.models import build_backbone
from mmlavit.analysis.report import write_table
from mmlavit.analysis.timing import interleaved, machine, matmul_peak, peak_memory, release_memory

MODELS = ['LaViT-T', 'LaViT-T twin', 'LaViT-S', 'LaViT-B', 'timm PVTv2-b1', 'timm PVTv2-b2', 'timm PVTv2-b3',
          'timm Swin-T']
MODES = ['fp32', 'amp-fp16', 'amp-bf16', 'compile']
PAIRS = [('LaViT-T', 'LaViT-T twin'), ('LaViT-T', 'timm PVTv2-b1'), ('LaViT-S', 'timm PVTv2-b2'),
         ('LaViT-B', 'timm PVTv2-b3'), ('LaViT-S', 'timm Swin-T')]


def autocast(mode: str, device: str):
    if mode.startswith('amp'):
        dtype = torch.float16 if mode == 'amp-fp16' else torch.bfloat16
        return torch.autocast(device.split(':')[0], dtype=dtype)
    return nullcontext()


def measure(names, shape, mode, device, warmup, repeats, backend):
    """Every model at one input size and mode: forward and training step interleaved, then each step's
    peak memory; a list of row dicts."""
    bs = default_batch(shape)
    x = torch.randn(bs, 3, *shape, device=device)
    built = {}
    for n in names:
        model = build_backbone(n, shape).to(device)
        built[n] = (model, torch.compile(model, backend=backend) if mode == 'compile' else model)
    rows = {n: dict(model=n, shape=shape, batch=bs, mode=mode) for n in names}
    for model, _ in built.values():
        model.eval()

    def fwd(run):
        def f():
            with torch.no_grad(), autocast(mode, device):
                run(x)
        return f
    ts = interleaved({n: fwd(run) for n, (_, run) in built.items()}, warmup, repeats, device)
    for n, t in ts.items():
        rows[n].update(fwd=min(t), tput=bs / min(t))
    finite = {}

    def step(n):
        model, run = built[n]

        def f():
            with autocast(mode, device):
                out = run(x)
                loss = sum(o.float().mean() for o in out)
                if hasattr(model, 'pop_aux_losses'):
                    loss = loss + sum(model.pop_aux_losses().values())
            loss.backward()
            grads = [p.grad for p in model.parameters() if p.grad is not None]
            finite[n] = bool(torch.isfinite(loss)) and all(bool(torch.isfinite(g).all()) for g in grads)
            model.zero_grad(set_to_none=True)
        return f
    for model, _ in built.values():
        model.train()
    steps = {n: step(n) for n in names}
    ts = interleaved(steps, warmup, repeats, device)
    for n in names:
        peak = peak_memory(steps[n], device) / 2 ** 20
        rows[n].update(fwdbwd=min(ts[n]), finite=finite[n], peak_mb=peak)
        print(f"{n} {shape} {mode}: fwd {1e3 * rows[n]['fwd']:.1f} ms, fwd+bwd {1e3 * min(ts[n]):.1f} ms, "
              f"peak {peak:.0f} MB, finite {finite[n]}", flush=True)
    built.clear()
    release_memory(device)
    return [rows[n] for n in names]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default='cuda')
    p.add_argument('--quick', action='store_true', help='smoke run: 64² and 96×128 inputs, LaViT-T and its '
                   'twin, one round, torch.compile with the eager backend (graph capture only)')
    p.add_argument('--models', nargs='+')
    p.add_argument('--shapes', nargs='+', help="default 224 512 800x1344 (--quick: 64 96x128)")
    p.add_argument('--modes', nargs='+', default=MODES, choices=MODES)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--repeats', type=int, default=10)
    p.add_argument('--compile-backend', default='inductor')
    p.add_argument('--out-dir', default='work_dirs/bench_gpu')
    return p.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    if a.device.startswith('cuda') and not torch.cuda.is_available():
        raise SystemExit(
            'no CUDA device here: run on a GPU machine, or use --device cpu --quick for a smoke run')
    if a.quick:
        a.shapes, a.warmup, a.repeats, a.compile_backend = a.shapes or ['64', '96x128'], 1, 1, 'eager'
        a.models = a.models or ['LaViT-T', 'LaViT-T twin']
    a.shapes = a.shapes or ['224', '512', '800x1344']
    names = a.models or MODELS
    check_names(names)
    if a.device.startswith('cuda'):
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32
        torch.backends.cudnn.allow_tf32 = False
    os.makedirs(a.out_dir, exist_ok=True)
    shapes = [parse_shape(s) for s in a.shapes]
    peak = matmul_peak(a.device, n=512 if a.quick else 8192)
    rows = []
    for shape in shapes:
        for mode in a.modes:
            rows += measure(names, shape, mode, a.device, a.warmup, a.repeats, a.compile_backend)
    memory = 'CUDA peak allocation' if a.device.startswith('cuda') else 'RSS growth'
    lines = [f'Device: {machine(a.device)}; fp32 matmul peak measured in this run '
             f'{peak / 1e12:.2f} TFLOP/s '
             f'(TF32 off); best of {a.repeats} interleaved rounds after {a.warmup} warm-up; compile backend '
             f'{a.compile_backend}; memory: {memory} of one training step.', '',
             '| model | input | batch | mode | fwd ms | img/s | fwd+bwd ms | peak MB (train step) '
             '| finite loss/grads |',
             '|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['model']} | {r['shape'][0]}×{r['shape'][1]} | {r['batch']} | {r['mode']} | "
                     f"{1e3 * r['fwd']:.2f} | {r['tput']:.1f} | {1e3 * r['fwdbwd']:.2f} | "
                     f"{r['peak_mb']:.0f} | {r['finite']} |")
    by = {(r['model'], r['shape'], r['mode']): r for r in rows}
    lines += ['', '| speed-up (forward) | mode | ' + ' | '.join(f'{s}' for s in a.shapes) + ' |',
              '|---|---|' + '---|' * len(a.shapes)]
    for x, y in PAIRS:
        for mode in a.modes:
            cells = [by[(y, s, mode)]['fwd'] / by[(x, s, mode)]['fwd']
                     if (x, s, mode) in by and (y, s, mode) in by else None for s in shapes]
            if any(c is not None for c in cells):
                lines.append(f'| {x} over {y} | {mode} | '
                             + ' | '.join('—' if c is None else f'{c:.2f}×' for c in cells) + ' |')
    write_table(osp.join(a.out_dir, 'benchmark_gpu.md'), lines)
    return 0 if all(r['finite'] for r in rows) else 1
