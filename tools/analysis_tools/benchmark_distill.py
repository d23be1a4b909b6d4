# Copyright (c) mmlavit contributors.
"""Training-step cost of distillation, in one process: the student alone, then with KD, DKD, CLKD (ours and
the paper's form) and TRG (+KD) through SingleTeacherDistiller — same teacher, same batch, same optimizer
(SGD) — as time and activation-memory ratios over the student alone and over plain KD.

    python tools/analysis_tools/benchmark_distill.py              # CIFAR resnet32x4 -> resnet8x4, batch 64
    python tools/analysis_tools/benchmark_distill.py --teacher resnet56 --student resnet20 --batch 128

The losses and their settings are those of configs/distill/_base_/methods/. The teacher's weights are random
(the cost does not depend on them). Writes <out-dir>/benchmark_distill.md.
"""
import argparse
import os
import os.path as osp
import sys

import torch
from mmengine.registry import DefaultScope

import mmlavit  # noqa: F401
from mmlavit.models import SingleTeacherDistiller

from experiments import ROOT, saved_activation_bytes, time_runs, write_table

CH = {'resnet8x4': 256, 'resnet32x4': 256}


def classifier(arch):
    return dict(type='ImageClassifier', backbone=dict(type='CifarResNet', arch=arch),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=100, in_channels=CH.get(arch, 64),
                          loss=dict(type='CrossEntropyLoss')),
                data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=100))


METHODS = {'KD': 'kd', 'DKD': 'dkd', 'CLKD': 'clkd', "CLKD (paper's)": 'clkd_paper', 'TRG (+KD)': 'trg'}


def methods(s_dim, t_dim):
    """The ``distill_method`` of each ``configs/distill/_base_/methods/`` base (the committed settings), with
    TRG's projector dims set for this pair."""
    from mmengine.config import Config
    out = {}
    for name, m in METHODS.items():
        path = osp.join(ROOT, 'configs', 'distill', '_base_', 'methods', f'{m}.py')
        block = Config.fromfile(path).distill_method.to_dict()
        for key in ('_delete_', 'type'):  # what makes it the leaf's model; the arguments stay
            block.pop(key)
        for loss in block['losses'].values():
            if loss['type'] == 'TRGLoss':
                loss.update(student_dim=s_dim, teacher_dim=t_dim)
        out[name] = block
    return out


def step_fn(model, inputs, samples):
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)

    def step():
        losses = model(inputs, samples, mode='loss')
        loss, _ = model.parse_losses(losses)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def measure(step, device, warmup, repeats):
    return min(time_runs(step, warmup, repeats, device))  # best of N: the least disturbed by other load


def saved_mb(model, inputs, samples):
    weights = [*model.parameters(), *model.buffers()]
    return saved_activation_bytes(lambda: model(inputs, samples, mode='loss'), weights) / 2 ** 20


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--teacher', default='resnet32x4')
    p.add_argument('--student', default='resnet8x4')
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--repeats', type=int, default=10)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--out-dir', default='work_dirs/bench_distill')
    a = p.parse_args(argv)
    os.makedirs(a.out_dir, exist_ok=True)
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    torch.manual_seed(0)
    inputs = torch.randn(a.batch, 3, 32, 32, device=a.device)
    samples = [DataSample().set_gt_label(i % 100) for i in range(a.batch)]
    rows = []
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        student = MODELS.build(classifier(a.student)).to(a.device).train()
        t = measure(step_fn(student, inputs, samples), a.device, a.warmup, a.repeats)
        rows.append(('student alone', t, saved_mb(student, inputs, samples)))
        print(rows[-1], flush=True)
        for name, cfg in methods(CH.get(a.student, 64), CH.get(a.teacher, 64)).items():
            d = SingleTeacherDistiller(student=classifier(a.student),
                                       teacher=dict(model=classifier(a.teacher), scope='mmpretrain'),
                                       allow_random_teacher=True, **cfg).to(a.device).train()
            t = measure(step_fn(d, inputs, samples), a.device, a.warmup, a.repeats)
            rows.append((name, t, saved_mb(d, inputs, samples)))
            print(rows[-1], flush=True)
    base, kd = rows[0][1], rows[1][1]
    lines = [f'{a.teacher} -> {a.student}, batch {a.batch} of 32×32, device {a.device}, '
             f'{torch.get_num_threads()} threads, best of {a.repeats} SGD steps after {a.warmup} warm-up; '
             'saved act. = bytes autograd keeps for backward (the teacher runs under no_grad).', '',
             '| training step | ms | × student alone | × plain KD | saved act. MB |', '|---|---|---|---|---|']
    for name, t, mb in rows:
        lines.append(f'| {name} | {1e3 * t:.1f} | {t / base:.2f} | {t / kd:.2f} | {mb:.0f} |')
    write_table(osp.join(a.out_dir, 'benchmark_distill.md'), lines)
    return 0


if __name__ == '__main__':
    sys.exit(main())
