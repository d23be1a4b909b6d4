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
import itertools
import os.path as osp
import sys

import torch
from mmengine.config import DictAction
from mmengine.runner import Runner

from mmlavit.analysis.gradients import load_distill_config, measure
from mmlavit.analysis.models import build_model
from mmlavit.analysis.report import write_table


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
    try:
        cfg = load_distill_config(a.config, a.cfg_options)
    except ValueError as e:
        raise SystemExit(str(e))
    if a.checkpoint and not osp.isfile(a.checkpoint):
        raise SystemExit(f'--checkpoint {a.checkpoint} does not exist')
    torch.manual_seed(a.seed)
    _, model = build_model(cfg, a.checkpoint)  # initialised without a checkpoint; one has no teacher keys
    model.auto_progress = False  # no Runner here: the progress is --progress
    model.set_progress(a.progress if a.progress is not None else float(bool(a.checkpoint)))
    model.train()
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=a.seed)
    ref, rows = measure(model, itertools.islice(loader, a.batches), a.reference)
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
