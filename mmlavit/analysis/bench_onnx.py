"""Backbone speed where users deploy: ONNX Runtime (CPU) for LaViT-T/S/B and timm's PVTv2-b1/b2/b3 exported
the same way, against PyTorch eager (and optionally torch.compile and OpenVINO), in one process with
interleaved rounds (every runtime and model runs once per round; best and median of --rounds).

    python tools/analysis_tools/benchmark_onnx.py --shapes 224 --rounds 5 --out-dir work_dirs/bench_onnx
    python tools/analysis_tools/benchmark_onnx.py --shapes 512 800x1344 --compile --rounds 3

Each model is exported once with dynamic height and width (``--exporter``; files cached in --out-dir, so one
process per shape reuses them) and run by ONNX Runtime with ``intra_op_num_threads=--threads`` and all graph
optimisations; PyTorch runs with ``torch.set_num_threads(--threads)``. Batch 8 at 224², 1 at the other sizes.
``--profile`` writes ONNX Runtime's profile of LaViT-T at each shape and prints the operator types that cost
most. Writes ``benchmark_onnx_<shapes>.md`` (a table and the LaViT/PVTv2 ratios) under --out-dir. Needs the
``deploy`` extra (onnx, onnxruntime, onnxscript) and timm==1.0.31 for the peers.
"""
import argparse
import json
import os
import os.path as osp
import time
import warnings
from collections import defaultdict
from typing import Callable, Dict, List

import torch

from mmlavit.analysis.bench_backbones import default_batch, parse_shape
from mmlavit.analysis.models import build_backbone
from mmlavit.analysis.report import write_table
from mmlavit.analysis.timing import best_median, interleaved, keeps_torch_threads, machine

PAIRS = [('LaViT-T', 'timm PVTv2-b1'), ('LaViT-S', 'timm PVTv2-b2'), ('LaViT-B', 'timm PVTv2-b3')]
MODELS = [m for pair in PAIRS for m in pair]


def export(model, name: str, out_dir: str, exporter: str) -> str:
    path = osp.join(out_dir, f"{name.replace(' ', '_')}_{exporter}.onnx")
    if osp.exists(path):
        return path
    x = torch.randn(1, 3, 224, 224)
    t0 = time.time()
    if exporter == 'dynamo':
        dim = torch.export.Dim
        torch.onnx.export(model, (x, ), path, dynamo=True, verbose=False, input_names=['x'],
                          dynamic_shapes={'x': {0: dim('b', min=1, max=64), 2: dim('h', min=64),
                                                3: dim('w', min=64)}})
    else:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            torch.onnx.export(model, (x, ), path, dynamo=False, input_names=['x'],
                              dynamic_axes={'x': {0: 'b', 2: 'h', 3: 'w'}})
    print(f'exported {name} ({exporter}) in {time.time() - t0:.0f} s', flush=True)
    return path


def ort_session(path: str, threads: int, profile_prefix: str = None):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if profile_prefix:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile_prefix
    return ort.InferenceSession(path, opts, providers=['CPUExecutionProvider'])


def top_ops(profile_json: str, k: int = 8) -> List[str]:
    """Operator types by total time in an ONNX Runtime profile (the last run)."""
    events = json.load(open(profile_json))
    per_type = defaultdict(float)
    for e in events:
        if e.get('cat') == 'Node' and e['name'].endswith('_kernel_time'):
            per_type[e['args'].get('op_name', '?')] += e['dur']
    total = sum(per_type.values()) or 1.
    return [f'{op} {100 * us / total:.0f}%' for op, us in sorted(per_type.items(), key=lambda kv: -kv[1])[:k]]


def runners(args, models, paths) -> Dict[str, Callable]:
    """``'<model> | <runtime>'`` -> a function of the input batch."""
    out: Dict[str, Callable] = {}
    for n in args.models:
        sess = ort_session(paths[n], args.threads)
        out[f'{n} | ORT'] = (lambda s: lambda x: s.run(None, {'x': x.numpy()}))(sess)
        out[f'{n} | eager'] = models[n]
    for n in ('LaViT-T', 'timm PVTv2-b1'):
        if args.compile and n in models:
            out[f'{n} | torch.compile'] = torch.compile(models[n], dynamic=False)
        if args.openvino and n in models:
            import openvino as ov
            cm = ov.Core().compile_model(paths[n], 'CPU', {'INFERENCE_NUM_THREADS': args.threads})
            out[f'{n} | OpenVINO'] = (lambda c: lambda x: c(x.numpy()))(cm)
    return out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--models', nargs='+', default=MODELS, choices=MODELS)
    parser.add_argument('--shapes', nargs='+', default=['224', '512', '800x1344'])
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--exporter', choices=['dynamo', 'torchscript'], default='dynamo')
    parser.add_argument('--compile', action='store_true',
                        help='also torch.compile (inductor) LaViT-T / PVTv2-b1')
    parser.add_argument('--openvino', action='store_true', help='also OpenVINO (CPU) on the ONNX files')
    parser.add_argument('--profile', action='store_true', help="ONNX Runtime's profile of LaViT-T")
    parser.add_argument('--out-dir', default='work_dirs/bench_onnx')
    return parser.parse_args(argv)


@keeps_torch_threads
def main(argv=None) -> int:
    args = parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = {n: build_backbone(n).eval() for n in args.models}
    paths = {n: export(m, n, args.out_dir, args.exporter) for n, m in models.items()}
    runs = runners(args, models, paths)
    rows = []
    for shape in map(parse_shape, args.shapes):
        b = default_batch(shape)
        x = torch.randn(b, 3, *shape)
        with torch.no_grad():  # one warm-up round (and compilation) outside the timed rounds
            times = interleaved({k: (lambda r=r: r(x)) for k, r in runs.items()}, 1, args.rounds,
                                log_warmup=True)
        best = {k: min(v) for k, v in times.items()}
        for key in runs:
            t, med = best_median(times[key])
            rows.append((shape, b, key, 1e3 * t, 1e3 * med))
            print(f'{shape} b{b} {key}: best {1e3 * t:.1f} ms, median {1e3 * med:.1f} ms', flush=True)
        for lavit, peer in PAIRS:
            for rt in ('ORT', 'eager', 'torch.compile', 'OpenVINO'):
                a, p = f'{lavit} | {rt}', f'{peer} | {rt}'
                if a in best and p in best:
                    rows.append((shape, b, f'{peer} / {lavit} ({rt})', best[p] / best[a], None))
        if 'LaViT-T | ORT' in best:
            ratio = best['LaViT-T | eager'] / best['LaViT-T | ORT']
            rows.append((shape, b, 'LaViT-T eager / ORT', ratio, None))
        if args.profile and 'LaViT-T' in paths:
            prefix = osp.join(args.out_dir, f'ort_profile_{shape[0]}')
            sess = ort_session(paths['LaViT-T'], args.threads, prefix)
            sess.run(None, {'x': x.numpy()})
            sess.run(None, {'x': x.numpy()})
            prof = sess.end_profiling()
            ops = top_ops(prof)
            print(f'{shape} LaViT-T ORT profile ({prof}): ' + ', '.join(ops), flush=True)
            rows.append((shape, b, 'LaViT-T ORT top operators', ', '.join(ops), None))
    lines = [f'{machine()}; {args.exporter} export (dynamic H/W), best / median of {args.rounds} '
             'interleaved rounds after one warm-up', '',
             '| input | batch | what | best | median |', '|---|---|---|---|---|']
    for shape, b, key, v, med in rows:
        key = key.replace(' | ', ', ')
        if med is None:
            cell = v if isinstance(v, str) else f'{v:.2f}×'
            lines.append(f'| {shape[0]}×{shape[1]} | {b} | {key} | {cell} | |')
        else:
            lines.append(f'| {shape[0]}×{shape[1]} | {b} | {key} | {v:.1f} ms | {med:.1f} ms |')
    write_table(osp.join(args.out_dir, f"benchmark_onnx_{'_'.join(args.shapes)}.md"), lines)
    return 0
