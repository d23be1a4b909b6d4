# Copyright (c) mmlavit contributors.
"""Meta-learning throughput, in one process: meta-training and meta-test episodes per second of MAML, ANIL,
BOIL and GP-MAML / GP-ANIL / GP-BOIL on the same Conv-4 task (5-way, 15 queries, 84 px by default, meta-batch
4, one inner step, second order), with GP's cost relative to its base method.

    python tools/analysis_tools/benchmark_fewshot.py --shots 1 --img-size 84
    python tools/analysis_tools/benchmark_fewshot.py --img-size 32 --channels 32     # the small configs' size

learn2learn's MAML is not compared: learn2learn 0.2.0 (the latest release) does not build on Python 3.11 — its
sdist ships Cython-generated C that includes ``longintrepr.h`` (removed in 3.11) and no .pyx sources to
regenerate it from (docs/benchmarks.md). Writes <out-dir>/benchmark_fewshot.md.
"""
import argparse
import os
import os.path as osp
import sys

import torch

import mmlavit  # noqa: F401
from mmlavit.models import ANIL, BOIL, GPANIL, GPBOIL, GPMAML, MAML

from experiments import time_runs, write_table

CLASSES = {'MAML': MAML, 'ANIL': ANIL, 'BOIL': BOIL, 'GP-MAML': GPMAML, 'GP-ANIL': GPANIL, 'GP-BOIL': GPBOIL}


def batch(n_tasks, ways, shots, queries, size, device):
    g = torch.Generator().manual_seed(0)
    mk = lambda n: torch.randn(n, 3, size, size, generator=g).to(device)  # noqa: E731
    labels = lambda k: torch.arange(ways, device=device).repeat_interleave(k)  # noqa: E731
    return dict(support_img=[mk(ways * shots) for _ in range(n_tasks)],
                support_label=[labels(shots) for _ in range(n_tasks)],
                query_img=[mk(ways * queries) for _ in range(n_tasks)],
                query_label=[labels(queries) for _ in range(n_tasks)])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--shots', type=int, default=1)
    p.add_argument('--queries', type=int, default=15)
    p.add_argument('--img-size', type=int, default=84)
    p.add_argument('--channels', type=int, default=64)
    p.add_argument('--meta-batch', type=int, default=4)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--methods', nargs='+', default=list(CLASSES), choices=list(CLASSES))
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--out-dir', default='work_dirs/bench_fewshot')
    a = p.parse_args(argv)
    os.makedirs(a.out_dir, exist_ok=True)
    train_b = batch(a.meta_batch, 5, a.shots, a.queries, a.img_size, a.device)
    test_b = batch(1, 5, a.shots, a.queries, a.img_size, a.device)
    rows = {}
    for name in a.methods:
        torch.manual_seed(0)
        m = CLASSES[name](backbone=dict(type='Conv4', channels=a.channels), img_size=a.img_size).to(a.device)
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)

        def train_step():
            m.train()
            loss, _ = m.parse_losses(m(train_b, mode='loss'))
            opt.zero_grad()
            loss.backward()
            opt.step()

        def test_step():
            m.eval()
            with torch.no_grad():  # as in the val loop: the model re-enables grad for its inner loop
                m(test_b, mode='predict')
        t_train = min(time_runs(train_step, a.warmup, a.repeats, a.device))  # best of N
        t_test = min(time_runs(test_step, a.warmup, max(a.repeats, 3), a.device))
        rows[name] = (a.meta_batch / t_train, 1 / t_test)
        print(name, f'{rows[name][0]:.2f} train episodes/s, {rows[name][1]:.2f} test episodes/s', flush=True)
    lines = [f'5-way {a.shots}-shot, {a.queries} queries per class, {a.img_size} px, Conv-4 ({a.channels} '
             f'channels), meta-batch {a.meta_batch}, one inner step (second order in meta-training); '
             f'device {a.device}, '
             f'{torch.get_num_threads()} threads; best of {a.repeats} steps after {a.warmup} warm-up.', '',
             '| method | meta-train episodes/s | meta-test episodes/s | '
             'cost per meta-train episode vs its base |',
             '|---|---|---|---|']
    for name, (tr, te) in rows.items():
        base = name[3:] if name.startswith('GP-') else None
        rel = f'{rows[base][0] / tr:.2f}×' if base in rows else '—'
        lines.append(f'| {name} | {tr:.2f} | {te:.2f} | {rel} |')
    write_table(osp.join(a.out_dir, 'benchmark_fewshot.md'), lines)
    return 0


if __name__ == '__main__':
    sys.exit(main())
