# Copyright (c) mmlavit contributors.
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
import statistics
import time
import warnings
from collections import defaultdict
from typing import Dict, List

import torch

import mmlavit  # noqa: F401
from mmlavit.models import LaViT

BATCH = {224: 8}
PAIRS = [('LaViT-T', 'timm PVTv2-b1'), ('LaViT-S', 'timm PVTv2-b2'), ('LaViT-B', 'timm PVTv2-b3')]
MODELS = [m for pair in PAIRS for m in pair]


def build(name: str) -> torch.nn.Module:
    if name.startswith('LaViT'):
        arch = {'T': 'tiny', 'S': 'small', 'B': 'base'}[name[-1]]
        return LaViT(arch, out_indices=(0, 1, 2, 3), drop_path_rate=0.).eval()
    import timm
    return timm.create_model('pvt_v2_' + name.split('-')[-1], pretrained=False,
                             features_only=True, drop_path_rate=0.).eval()


def parse_shape(s: str):
    h, _, w = s.partition('x')
    return int(h), int(w or h)


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
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
    args = parser.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    models = {n: build(n) for n in args.models}
    paths = {n: export(m, n, args.out_dir, args.exporter) for n, m in models.items()}
    runners: Dict[str, callable] = {}
    for n in args.models:
        sess = ort_session(paths[n], args.threads)
        runners[f'{n} | ORT'] = (lambda s: lambda x: s.run(None, {'x': x.numpy()}))(sess)
        runners[f'{n} | eager'] = (lambda m: lambda x: m(x))(models[n])
    if args.compile:
        for n in ('LaViT-T', 'timm PVTv2-b1'):
            if n in models:
                compiled = torch.compile(models[n], dynamic=False)
                runners[f'{n} | torch.compile'] = (lambda m: lambda x: m(x))(compiled)
    if args.openvino:
        import openvino as ov
        core = ov.Core()
        for n in ('LaViT-T', 'timm PVTv2-b1'):
            if n in models:
                cm = core.compile_model(paths[n], 'CPU', {'INFERENCE_NUM_THREADS': args.threads})
                runners[f'{n} | OpenVINO'] = (lambda c: lambda x: c(x.numpy()))(cm)

    rows = []
    for shape in map(parse_shape, args.shapes):
        b = BATCH.get(shape[0] if shape[0] == shape[1] else 0, 1)
        x = torch.randn(b, 3, *shape)
        times = defaultdict(list)
        with torch.no_grad():
            for key, run in runners.items():  # warm-up (and compilation) outside the timed rounds
                t0 = time.perf_counter()
                run(x)
                print(f'{shape} warm-up {key}: {time.perf_counter() - t0:.1f} s', flush=True)
            for _ in range(args.rounds):
                for key, run in runners.items():
                    t0 = time.perf_counter()
                    run(x)
                    times[key].append(time.perf_counter() - t0)
        best = {k: min(v) for k, v in times.items()}
        for key in runners:
            rows.append((shape, b, key, 1e3 * best[key], 1e3 * statistics.median(times[key])))
            print(f'{shape} b{b} {key}: best {1e3 * best[key]:.1f} ms, median '
                  f'{1e3 * statistics.median(times[key]):.1f} ms', flush=True)
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

    tag = '_'.join(args.shapes)
    out = osp.join(args.out_dir, f'benchmark_onnx_{tag}.md')
    with open(out, 'w') as f:
        f.write(f'CPU, {args.threads} threads, {args.exporter} export (dynamic H/W), best / median of '
                f'{args.rounds} interleaved rounds\n\n'
                '| input | batch | what | best | median |\n|---|---|---|---|---|\n')
        for shape, b, key, v, med in rows:
            key = key.replace(' | ', ', ')
            if med is None:
                f.write(f'| {shape[0]}×{shape[1]} | {b} | {key} | '
                        f'{v if isinstance(v, str) else f"{v:.2f}×"} | |\n')
            else:
                f.write(f'| {shape[0]}×{shape[1]} | {b} | {key} | {v:.1f} ms | {med:.1f} ms |\n')
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
