# Copyright (c) mmlavit contributors.
"""How hard each loss of a distillation config pulls on the student: for each logged loss term, its value,
the norm of its gradient on the student's parameters and the cosine between that gradient and a reference
term's (plain KD's by default), averaged over a few training batches.

    python tools/analysis_tools/distill_gradients.py configs/distill/trg/trg_resnet32-resnet8_synth-cls100.py
    python tools/analysis_tools/distill_gradients.py \\
        configs/distill/trg/trg_resnet32-resnet8_synth-cls100.py \\
        --checkpoint work_dirs/trg_resnet32-resnet8_synth-cls100/epoch_30.pth   # at the end of training

Without ``--checkpoint`` the student is as initialised. ``--progress`` is the training progress the losses'
schedules see (warm-ups, TRG's temperature): 0 by default, 1 with a checkpoint. A term whose gradient is a
small fraction of the others' cannot change what the student learns, whatever its value.
"""
import argparse
import os.path as osp
import sys

import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import mmlavit  # noqa: F401
from mmlavit.models.distillers import check_no_legacy_distiller

from experiments import write_table
from model_analysis import build_model


def _term(v):
    return sum(v) if isinstance(v, (list, tuple)) else v


def measure(model, loader, batches: int, reference: str = None):
    """``{term: (mean value, mean ‖∇θ‖, mean cos(∇θ, ∇θ reference))}`` over ``batches`` batches; θ = the
    student's trainable parameters."""
    params = [p for p in model.student.parameters() if p.requires_grad]
    sums, ref_name = {}, reference
    for i, batch in enumerate(loader):
        if i == batches:
            break
        data = model.data_preprocessor(batch, True)
        losses = {k: _term(v) for k, v in model.loss(data['inputs'], data['data_samples']).items()
                  if 'loss' in k and torch.is_tensor(_term(v)) and _term(v).requires_grad}
        if ref_name is None:
            ref_name = 'distill.loss_kd' if 'distill.loss_kd' in losses else next(iter(losses))
        if ref_name not in losses:
            raise KeyError(f'--reference {ref_name!r} is not a loss of this config; its losses: '
                           f'{sorted(losses)}')
        grads = {}
        for k, v in losses.items():
            g = torch.autograd.grad(v, params, retain_graph=True, allow_unused=True)
            grads[k] = torch.cat([(x if x is not None else torch.zeros_like(p)).flatten()
                                  for x, p in zip(g, params)])
        for k, g in grads.items():
            s = sums.setdefault(k, [0.0, 0.0, 0.0, 0])
            s[0] += losses[k].item()
            s[1] += g.norm().item()
            s[2] += F.cosine_similarity(g, grads[ref_name], dim=0).item()
            s[3] += 1
    if not sums:
        raise ValueError('the training dataloader gave no batch')
    return ref_name, {k: (v / n, g / n, c / n) for k, (v, g, c, n) in sums.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help="a distillation config (model.type='SingleTeacherDistiller')")
    p.add_argument('--checkpoint',
                   help="the distiller's training checkpoint (default: the student as initialised)")
    p.add_argument('--progress', type=float,
                   help='training progress in [0, 1] (default: 0, or 1 with --checkpoint)')
    p.add_argument('--batches', type=int, default=4)
    p.add_argument('--reference', help='the term the others are compared with (default: distill.loss_kd if '
                                       'present, else the first loss)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', help='also write the table to this markdown file')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, as tools/train.py')
    a = p.parse_args(argv)
    cfg = Config.fromfile(a.config)
    if a.cfg_options:
        cfg.merge_from_dict(a.cfg_options)
    check_no_legacy_distiller(cfg, a.config)
    if str(cfg.model.get('type', '')).split('.')[-1] != 'SingleTeacherDistiller':
        raise SystemExit(f'{a.config}: model.type is {cfg.model.get("type")!r}, not SingleTeacherDistiller: '
                         'this tool compares the losses of a distillation config (see configs/distill/)')
    if a.checkpoint and not osp.isfile(a.checkpoint):
        raise SystemExit(f'--checkpoint {a.checkpoint} does not exist')
    torch.manual_seed(a.seed)
    _, model = build_model(cfg, a.checkpoint)  # a checkpoint has no teacher keys: not saved
    if not a.checkpoint:
        model.init_weights()
    model.auto_progress = False  # no Runner here: the progress is --progress
    model.set_progress(a.progress if a.progress is not None else float(bool(a.checkpoint)))
    model.train()
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=a.seed)
    ref, rows = measure(model, loader, a.batches, a.reference)
    lines = [f'{a.config}, {"checkpoint " + a.checkpoint if a.checkpoint else "as initialised"}; mean over '
             f'{a.batches} training batches; ∇θ on the student\'s parameters; cos with {ref}.', '',
             '| loss | value | ‖∇θ‖ | cos with reference |', '|---|---|---|---|']
    lines += [f'| {k} | {v:.4f} | {g:.4f} | {c:+.3f} |' for k, (v, g, c) in rows.items()]
    print('\n'.join(lines))
    if a.out:
        write_table(a.out, lines)
    return 0


if __name__ == '__main__':
    sys.exit(main())
