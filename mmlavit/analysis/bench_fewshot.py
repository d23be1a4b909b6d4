"""Meta-learning throughput, in one process: meta-training and meta-test episodes per second of MAML, ANIL,
BOIL and GP-MAML / GP-ANIL / GP-BOIL on the same Conv-4 task (5-way, 15 queries, 84 px by default, meta-batch
4, one inner step, second order), the methods timed in interleaved rounds, with GP's cost relative to its
base method.

    python tools/analysis_tools/benchmark_fewshot.py --shots 1 --img-size 84
    python tools/analysis_tools/benchmark_fewshot.py --img-size 32 --channels 32     # the small configs' size

learn2learn's MAML is not compared: learn2learn 0.2.0 (the latest release) does not build on Python 3.11 — its
sdist ships Cython-generated C that includes ``longintrepr.h`` (removed in 3.11) and no .pyx sources to
regenerate it from (docs/benchmarks.md). Writes <out-dir>/benchmark_fewshot.md.
"""
import argparse
import os
import os.path as osp

import torch

from mmlavit.analysis.report import write_table
from mmlavit.analysis.timing import interleaved, machine

METHODS = ['MAML', 'ANIL', 'BOIL', 'GP-MAML', 'GP-ANIL', 'GP-BOIL']


def episodes(n_tasks, ways, shots, queries, size, device):
    """A meta-batch of ``n_tasks`` random episodes (support and query images with their labels)."""
    g = torch.Generator().manual_seed(0)
    mk = lambda n: torch.randn(n, 3, size, size, generator=g).to(device)  # noqa: E731
    labels = lambda k: torch.arange(ways, device=device).repeat_interleave(k)  # noqa: E731
    return dict(support_img=[mk(ways * shots) for _ in range(n_tasks)],
                support_label=[labels(shots) for _ in range(n_tasks)],
                query_img=[mk(ways * queries) for _ in range(n_tasks)],
                query_label=[labels(queries) for _ in range(n_tasks)])


def steps(model, train_batch, test_batch):
    """(one meta-training step with Adam, one meta-test episode) of ``model``."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_step():
        model.train()
        loss, _ = model.parse_losses(model(train_batch, mode='loss'))
        opt.zero_grad()
        loss.backward()
        opt.step()

    def test_step():
        model.eval()
        with torch.no_grad():  # as in the val loop: the model re-enables grad for its inner loop
            model(test_batch, mode='predict')
    return train_step, test_step


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--shots', type=int, default=1)
    p.add_argument('--queries', type=int, default=15)
    p.add_argument('--img-size', type=int, default=84)
    p.add_argument('--channels', type=int, default=64)
    p.add_argument('--meta-batch', type=int, default=4)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--methods', nargs='+', default=METHODS, choices=METHODS)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--out-dir', default='work_dirs/bench_fewshot')
    return p.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    import mmlavit.models as M
    classes = {'MAML': M.MAML, 'ANIL': M.ANIL, 'BOIL': M.BOIL, 'GP-MAML': M.GPMAML, 'GP-ANIL': M.GPANIL,
               'GP-BOIL': M.GPBOIL}
    os.makedirs(a.out_dir, exist_ok=True)
    train_b = episodes(a.meta_batch, 5, a.shots, a.queries, a.img_size, a.device)
    test_b = episodes(1, 5, a.shots, a.queries, a.img_size, a.device)
    train_fns, test_fns = {}, {}
    for name in a.methods:
        torch.manual_seed(0)
        model = classes[name](backbone=dict(type='Conv4', channels=a.channels), img_size=a.img_size)
        train_fns[name], test_fns[name] = steps(model.to(a.device), train_b, test_b)
    t_train = interleaved(train_fns, a.warmup, a.repeats, a.device)
    t_test = interleaved(test_fns, a.warmup, max(a.repeats, 3), a.device)
    rows = {}
    for name in a.methods:  # best of N: the least disturbed by other load
        rows[name] = (a.meta_batch / min(t_train[name]), 1 / min(t_test[name]))
        print(name, f'{rows[name][0]:.2f} train episodes/s, {rows[name][1]:.2f} test episodes/s', flush=True)
    lines = [f'5-way {a.shots}-shot, {a.queries} queries per class, {a.img_size} px, Conv-4 ({a.channels} '
             f'channels), meta-batch {a.meta_batch}, one inner step (second order in meta-training); '
             f'device {a.device}, {machine(a.device)}; best of {a.repeats} interleaved steps after '
             f'{a.warmup} warm-up.', '',
             '| method | meta-train episodes/s | meta-test episodes/s | '
             'cost per meta-train episode vs its base |',
             '|---|---|---|---|']
    for name, (tr, te) in rows.items():
        base = name[3:] if name.startswith('GP-') else None
        rel = f'{rows[base][0] / tr:.2f}×' if base in rows else '—'
        lines.append(f'| {name} | {tr:.2f} | {te:.2f} | {rel} |')
    write_table(osp.join(a.out_dir, 'benchmark_fewshot.md'), lines)
    return 0
