"""Training-step cost of distillation, in one process: the student alone and with KD, DKD, CLKD (the
``clkd`` and ``clkd_reimpl`` method bases) and TRG (+KD) through SingleTeacherDistiller — same teacher, same
batch, same optimizer (SGD), all timed in interleaved rounds — as time and activation-memory ratios over the
student alone and over KD.

    python tools/analysis_tools/benchmark_distill.py              # CIFAR resnet32x4 -> resnet8x4, batch 64
    python tools/analysis_tools/benchmark_distill.py --teacher resnet56 --student resnet20 --batch 128

The losses and their settings are those of the ``mmlavit::distill/_base_/methods/`` bases. The teacher's
weights are random (the cost does not depend on them). Writes <out-dir>/benchmark_distill.md.
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.registry import DefaultScope

from mmlavit.analysis.report import write_table
from mmlavit.analysis.timing import interleaved, machine, saved_activation_bytes

CH = {'resnet8x4': 256, 'resnet32x4': 256}
METHODS = {'KD': 'kd', 'DKD': 'dkd', 'CLKD': 'clkd', 'CLKD (re-impl.)': 'clkd_reimpl', 'TRG (+KD)': 'trg'}


def classifier(arch):
    return dict(type='ImageClassifier', backbone=dict(type='CifarResNet', arch=arch),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=100, in_channels=CH.get(arch, 64),
                          loss=dict(type='CrossEntropyLoss')),
                data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=100))


def methods(s_dim, t_dim):
    """The ``distill_method`` of each ``mmlavit::distill/_base_/methods/`` base (the committed settings),
    with TRG's projector dims set for this pair."""
    from mmengine.hub import get_config
    out = {}
    for name, m in METHODS.items():
        block = get_config(f'mmlavit::distill/_base_/methods/{m}.py').distill_method.to_dict()
        for key in ('_delete_', 'type'):  # what makes it the leaf's model; the arguments stay
            block.pop(key)
        for loss in block['losses'].values():
            if loss['type'] == 'TRGLoss':
                loss.update(student_dim=s_dim, teacher_dim=t_dim)
        out[name] = block
    return out


def step_fn(model, inputs, samples):
    """One SGD step of ``model`` on the batch."""
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)

    def step():
        loss, _ = model.parse_losses(model(inputs, samples, mode='loss'))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--teacher', default='resnet32x4')
    p.add_argument('--student', default='resnet8x4')
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--repeats', type=int, default=10)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--out-dir', default='work_dirs/bench_distill')
    return p.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    os.makedirs(a.out_dir, exist_ok=True)
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample

    from mmlavit.models import SingleTeacherDistiller
    torch.manual_seed(0)
    inputs = torch.randn(a.batch, 3, 32, 32, device=a.device)
    samples = [DataSample().set_gt_label(i % 100) for i in range(a.batch)]
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        models = {'student alone': MODELS.build(classifier(a.student))}
        for name, cfg in methods(CH.get(a.student, 64), CH.get(a.teacher, 64)).items():
            teacher = dict(model=classifier(a.teacher), scope='mmpretrain')
            models[name] = SingleTeacherDistiller(student=classifier(a.student), teacher=teacher,
                                                  allow_random_teacher=True, **cfg)
        for m in models.values():
            m.to(a.device).train()
        times = interleaved({n: step_fn(m, inputs, samples) for n, m in models.items()}, a.warmup, a.repeats,
                            a.device)
        rows = []
        for n, m in models.items():
            saved = saved_activation_bytes(lambda: m(inputs, samples, mode='loss'),
                                           [*m.parameters(), *m.buffers()])
            rows.append((n, min(times[n]), saved / 2 ** 20))  # best of N: the least disturbed by other load
            print(rows[-1], flush=True)
    base, kd = rows[0][1], rows[1][1]
    lines = [f'{a.teacher} -> {a.student}, batch {a.batch} of 32×32, device {a.device}, {machine(a.device)}; '
             f'best of {a.repeats} interleaved SGD steps after {a.warmup} warm-up; '
             'saved act. = bytes autograd keeps for backward (the teacher runs under no_grad).', '',
             '| training step | ms | × student alone | × plain KD | saved act. MB |', '|---|---|---|---|---|']
    for name, t, mb in rows:
        lines.append(f'| {name} | {1e3 * t:.1f} | {t / base:.2f} | {t / kd:.2f} | {mb:.0f} |')
    write_table(osp.join(a.out_dir, 'benchmark_distill.md'), lines)
    return 0
