# Copyright (c) mmlavit contributors. Train a model from an mmpretrain / mmdet / mmseg / mmlavit config.
"""Mirrors mmdet's ``tools/train.py``; the config's ``default_scope`` decides which toolbox's registries
build it, and ``--auto-scale-lr`` behaves as that toolbox's own tool (:mod:`mmlavit.apis.tool_parity`).
mmlavit is imported first, so our types and ``_base_ = 'mmlavit::...'`` are available."""
import argparse
import logging
import os
import sys

from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmlavit  # noqa: F401  (registers our types, the mmlavit:: config scope, safe checkpoint loading)
from mmlavit.apis import InputCheckError, check_inputs, load_config
from mmlavit.apis.tool_parity import ToolFlagError, enable_auto_scale_lr
from mmlavit.utils import init_cpu_dist_if_needed, shutdown_dist


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic-mixed-precision training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the LR by real batch size / auto_scale_lr.base_batch_size as the tool of '
                             "the config's scope does (mmdet also needs auto_scale_lr.enable in the config)")
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='If specify checkpoint path, resume from it, while if not specify, try to '
                             'auto resume from the latest checkpoint in the work directory.')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override some settings in the used config, the key-value pair in xxx=yyy '
                             'format will be merged into config file.')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_cfg(args) -> Config:
    cfg = load_config(args.config, args.launcher, args.cfg_options, args.work_dir)

    if args.amp:
        optim_wrapper = cfg.optim_wrapper.type
        if optim_wrapper == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.', logger='current',
                      level=logging.WARNING)
        else:
            assert optim_wrapper == 'OptimWrapper', (
                '`--amp` is only supported when the optimizer wrapper type is '
                f'`OptimWrapper` but got {optim_wrapper}.')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    if args.auto_scale_lr:  # as the config's upstream tool does (mmlavit.apis.tool_parity)
        enable_auto_scale_lr(cfg, args.config)

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = build_cfg(args)
    except ToolFlagError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    try:
        check_inputs(cfg, args.config)  # data and pretrained checkpoints, before the work dir is touched
    except InputCheckError as e:  # a dataset or checkpoint check (mmlavit.apis.data_check / checkpoint_check)
        print(f'error: {e}', file=sys.stderr)
        return 2
    init_cpu_dist_if_needed(args.launcher, cfg)  # gloo on CPU-only machines
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.train()
    shutdown_dist()  # a clean gloo/nccl teardown on every rank
    return 0


if __name__ == '__main__':
    sys.exit(main())
