# Copyright (c) mmlavit contributors.
"""Assemble docs/benchmarks.md from the outputs of the three benchmark tools (no number is typed by hand):

    python tools/analysis_tools/benchmark_backbones.py --out-dir work_dirs/bench_backbones
    python tools/analysis_tools/benchmark_distill.py   --out-dir work_dirs/bench_distill
    python tools/analysis_tools/benchmark_fewshot.py   --out-dir work_dirs/bench_fewshot
    python tools/analysis_tools/make_benchmark_page.py

The figures alone (latency vs input resolution from ``benchmark_backbones.py --sweep``, whole-model bars from
``benchmark_models.py``), into docs/benchmarks/ without touching the page:

    python tools/analysis_tools/benchmark_backbones.py --sweep 224 448 672 896 1120 1344 --repeats 2 \
        --models LaViT-T LaViT-S LaViT-B 'LaViT-T twin' 'timm PVTv2-b1' 'mmdet PVTv2-b1' 'mmdet Swin-T' \
        --out-dir work_dirs/bench_sweep
    python tools/analysis_tools/benchmark_models.py --tasks retinanet --out-dir work_dirs/bench_models/det
    python tools/analysis_tools/make_benchmark_page.py --figures-only \
        --sweep work_dirs/bench_sweep/sweep.json --models-json work_dirs/bench_models/*/benchmark_models.json
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys

SECTIONS = [
    ('Backbones: LaViT vs its all-attention twin, PVTv2 and Swin-T',
     'python tools/analysis_tools/benchmark_backbones.py --out-dir work_dirs/bench_backbones',
     'bench_backbones', ['benchmark_backbones.md'], ['throughput_vs_resolution.png', 'flops_vs_time.png']),
    ('Whole models: detectors and segmentors against PVTv2 and Swin-T',
     'python tools/analysis_tools/benchmark_models.py --out-dir work_dirs/bench_models',
     'bench_models', ['benchmark_models.md'], []),
    ('Less-attention vs vanilla-attention layers (LaViT-T, per stage)',
     '(same run as above)', 'bench_backbones', ['va_vs_la_layers.md'], []),
    ('Distillation: training-step overhead',
     'python tools/analysis_tools/benchmark_distill.py --out-dir work_dirs/bench_distill',
     'bench_distill', ['benchmark_distill.md'], []),
    ('Meta-learning throughput',
     'python tools/analysis_tools/benchmark_fewshot.py --out-dir work_dirs/bench_fewshot',
     'bench_fewshot', ['benchmark_fewshot.md'], []),
]


def _style(name: str):
    """Colour and line style of a model in the figures: LaViT solid, its twin dashed, peers dotted."""
    colours = {'LaViT-T': 'tab:blue', 'LaViT-S': 'tab:orange', 'LaViT-B': 'tab:green',
               'PVTv2-b1': 'tab:purple',
               'PVTv2-b2': 'tab:brown', 'PVTv2-b3': 'tab:pink', 'Swin-T': 'tab:red'}
    key = next((k for k in colours if k in name), None)
    ls = '--' if 'twin' in name else ('-' if name.startswith('LaViT') else ':')
    if name.startswith('timm'):
        ls = '-.'
    return colours.get(key, 'tab:gray'), ls


def latency_figure(sweep_json: str, out_png: str) -> None:
    """Forward latency vs input resolution (log-log), and LaViT's speed-up over its peers vs resolution."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    res = json.load(open(sweep_json))
    rows = res['rows']
    names = list(dict.fromkeys(r['model'] for r in rows))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    for n in names:
        rs = sorted((r for r in rows if r['model'] == n), key=lambda r: r['shape'][0] * r['shape'][1])
        c, ls = _style(n)
        ax.plot([(r['shape'][0] * r['shape'][1]) ** .5 for r in rs], [1e3 * r['fwd'] for r in rs], ls,
                color=c, marker='o', ms=3, lw=2 if n.startswith('LaViT') and 'twin' not in n else 1.3,
                label=n)
    shapes = sorted({tuple(r['shape']) for r in rows}, key=lambda s: s[0] * s[1])
    side = {s: (s[0] * s[1]) ** .5 for s in shapes}  # x: the side of the square with as many pixels
    for a in (ax, ax2):
        a.set_xscale('log')
        a.set_xticks([side[s] for s in shapes])
        a.set_xticklabels([f'{s[0]}²' if s[0] == s[1] else f'{s[0]}×{s[1]}' for s in shapes])
        a.minorticks_off()
        a.grid(alpha=.3)
        a.set_xlabel(res.get('xlabel', 'input (batch 1)'))
    ax.set_yscale('log')
    ax.set_ylabel(res.get('ylabel', 'forward latency (ms, best of rounds)'))
    ax.set_title('Backbone forward latency vs resolution')
    ax.legend(fontsize=7, ncol=2)
    by = {(r['model'], side[tuple(r['shape'])]): r['fwd'] for r in rows}
    sides = [side[s] for s in shapes]
    pairs = [('LaViT-T', 'PVTv2-b1'), ('LaViT-S', 'PVTv2-b2'), ('LaViT-S', 'Swin-T'),
             ('LaViT-T', 'LaViT-T twin'),
             ('LaViT-S', 'LaViT-S twin')]
    for ours, fam in pairs:
        peers = [n for n in names if n == fam or n.endswith(' ' + fam)]
        pts = [(s, min(by[(p, s)] for p in peers if (p, s) in by) / by[(ours, s)]) for s in sides
               if (ours, s) in by and any((p, s) in by for p in peers)]
        if pts and peers:
            c, _ = _style(ours)
            ls = '--' if 'twin' in fam else '-'
            label = f'{ours} over {fam}' if 'twin' in fam else f'{ours} over the fastest {fam}'
            ax2.plot(*zip(*pts), ls, marker='o', ms=3, color=_style(fam)[0] if 'twin' not in fam else c,
                     label=label)
    ax2.axhline(1, color='k', lw=.8)
    ax2.set_ylabel('speed-up (peer latency / LaViT latency)')
    ax2.set_title('LaViT\'s forward speed-up vs resolution')
    ax2.legend(fontsize=7)
    fig.text(.01, .01, res.get('caption') or f"{res.get('machine', '')}; best of {res.get('repeats', '?')} "
             'interleaved rounds',
             fontsize=6, color='gray')
    fig.tight_layout(rect=(0, .03, 1, 1))
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


def models_figure(model_jsons, out_png: str) -> None:
    """Whole-model bars: inference (mode='tensor', test_step) and training step per model, one row of panels
    per task (each with its own time axis)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = [r for path in model_jsons for r in json.load(open(path))['rows']]
    tasks = list(dict.fromkeys(r['task'] for r in rows))
    metrics = [('tensor', "inference, mode='tensor'"), ('predict', 'inference, test_step'),
               ('train', 'training step (+ optimizer)')]
    sizes = [sum(r['task'] == t for r in rows) for t in tasks]
    fig, axes = plt.subplots(len(tasks), 3, figsize=(14, 0.36 * sum(sizes) + 1.1 * len(tasks) + 0.6),
                             gridspec_kw=dict(height_ratios=sizes), squeeze=False)
    for ti, task in enumerate(tasks):
        rs = [r for r in rows if r['task'] == task]
        y = list(range(len(rs)))[::-1]
        for ax, (k, title) in zip(axes[ti], metrics):
            vals = [1e3 * r.get(k, float('nan')) for r in rs]
            ax.barh(y, vals, color=['tab:blue' if 'LaViT' in r['model'] else 'tab:gray' for r in rs])
            for yi, v in zip(y, vals):
                if v == v:
                    ax.text(v, yi, f' {v:.0f}', va='center', fontsize=7)
            finite = [v for v in vals if v == v]
            ax.set_xlim(0, (max(finite) if finite else 1) * 1.25)
            ax.set_yticks(y)
            ax.set_yticklabels([f"{r['model']}  {r['shape'][0]}×{r['shape'][1]} b{r['batch']}" for r in rs]
                               if k == 'tensor' else [], fontsize=8)
            ax.grid(axis='x', alpha=.3)
            if ti == 0:
                ax.set_title(title, fontsize=10)
            if ti == len(tasks) - 1:
                ax.set_xlabel('ms (best of rounds, lower is better)')
    fig.suptitle('Whole models on CPU (2 threads): LaViT (blue) vs the stock and timm-backbone peers (gray)',
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--work-dirs', default='work_dirs')
    p.add_argument('--out', default='docs/benchmarks.md')
    p.add_argument('--notes', default='docs/benchmarks/notes.md',
                   help='a Markdown file appended as "Reading the numbers" (skipped when it does not exist)')
    p.add_argument('--sweep', help='sweep.json of benchmark_backbones.py --sweep: latency_vs_resolution.png')
    p.add_argument('--models-json', nargs='+', help='benchmark_models.json files: whole_models.png')
    p.add_argument('--figures-only', action='store_true', help='write the figures, leave the page as it is')
    a = p.parse_args(argv)
    img_dir = osp.join(osp.dirname(a.out), 'benchmarks')
    os.makedirs(img_dir, exist_ok=True)
    if a.sweep:
        latency_figure(a.sweep, osp.join(img_dir, 'latency_vs_resolution.png'))
        print(f"wrote {osp.join(img_dir, 'latency_vs_resolution.png')}")
    if a.models_json:
        models_figure(a.models_json, osp.join(img_dir, 'whole_models.png'))
        print(f"wrote {osp.join(img_dir, 'whole_models.png')}")
    if a.figures_only:
        return 0
    out = ['# Benchmarks', '',
           'Generated by `tools/analysis_tools/make_benchmark_page.py` from the tools\' own output files; '
           'rerun the commands to regenerate. All models of a table are measured in the same run of the '
           'tool, one after the other (the backbone tool runs each model in its own child process).', '']
    for title, cmd, sub, mds, pngs in SECTIONS:
        out += [f'## {title}', '', f'```bash\n{cmd}\n```', '']
        for md in mds:
            path = osp.join(a.work_dirs, sub, md)
            out += [open(path).read().strip() if osp.exists(path) else f'*(not run: {path} missing)*', '']
        for png in pngs:
            src = osp.join(a.work_dirs, sub, png)
            if osp.exists(src):
                shutil.copy(src, osp.join(img_dir, png))
                out += [f'![{png}](benchmarks/{png})', '']
    if a.notes and osp.exists(a.notes):
        out += ['## Reading the numbers', '', open(a.notes).read().strip(), '']
    with open(a.out, 'w') as f:
        f.write('\n'.join(out))
    print(f'wrote {a.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
