# Copyright (c) mmlavit contributors. Test (evaluate) a checkpoint with an mmpretrain/mmdet/mmseg config.
"""Mirrors the test tool of the config's scope (mmpretrain's, mmdet's or mmseg's ``tools/test.py``):
``--show-dir`` writes the predictions drawn on the images through the config's visualization hook
(DetVisualizationHook, SegVisualizationHook or mmpretrain's VisualizationHook); ``--tta`` and ``--out`` /
``--out-item`` do what that scope's tool does (table in :mod:`mmlavit.apis.tool_parity`)."""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmlavit  # noqa: F401
from mmlavit.apis import DatasetNotFoundError, check_dataset_paths, load_config
from mmlavit.apis.tool_parity import ToolFlagError, apply_tta, output_for
from mmlavit.utils import init_cpu_dist_if_needed, shutdown_dist


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the directory to save the file containing evaluation metrics')
    parser.add_argument('--out', type=str,
                        help="predictions for offline evaluation, as the config's scope writes them: "
                             'mmdet, mmpretrain: a .pkl file (DumpDetResults / DumpResults); mmseg: a folder')
    parser.add_argument('--out-item', choices=['metrics', 'pred'],
                        help='mmpretrain: dump the metrics or the predictions (default) to --out')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='directory where painted images will be saved (a relative path '
                        'lands under the work dir: work_dir/<timestamp>/show_dir for mmdet, '
                        'work_dir/show_dir for mmpretrain; mmseg uses it as the visualizer save_dir)')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override some settings in the used config, xxx=yyy format')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--tta', action='store_true',
                        help="test time augmentation: the config's tta_model/tta_pipeline, else the default "
                             "of the scope's tool (mmpretrain, mmdet: flip TTA)")
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def trigger_visualization_hook(cfg, args):
    hooks = cfg.get('default_hooks', {})
    if 'visualization' not in hooks:
        raise RuntimeError('--show/--show-dir need a "visualization" entry in default_hooks (as the stock '
                           'mmdet/mmseg/mmpretrain default_runtime configs have).')
    hook = hooks['visualization']
    htype = str(hook.get('type', '')).split('.')[-1]
    if htype == 'VisualizationHook':  # mmpretrain: draws every `interval`-th sample (default 5000)
        hook['enable'] = True
        hook['interval'] = 1
        if args.show_dir:
            hook['out_dir'] = (args.show_dir if osp.isabs(args.show_dir)
                               else osp.join(cfg.work_dir, args.show_dir))
    else:  # mmdet DetVisualizationHook (writes under work_dir/<timestamp>/), mmseg SegVisualizationHook
        hook['draw'] = True
        hook['interval'] = 1
        if args.show_dir:
            if htype == 'DetVisualizationHook':
                hook['test_out_dir'] = args.show_dir
            else:
                cfg.visualizer['save_dir'] = args.show_dir
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    cfg.load_from = args.checkpoint
    if not osp.isfile(args.checkpoint) and '://' not in args.checkpoint:
        print(f'error: checkpoint "{args.checkpoint}" does not exist.', file=sys.stderr)
        return 2
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    if args.out is None and args.out_item is not None:
        print('error: --out-item needs --out (the file to write)', file=sys.stderr)
        return 2
    try:
        if args.tta:
            apply_tta(cfg, args.config)
        output = output_for(cfg, args.out, args.out_item) if args.out is not None else None
        if output is not None:
            output.configure(cfg)
    except ToolFlagError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    try:
        check_dataset_paths(Config(dict(test_dataloader=cfg.test_dataloader)), args.config)
    except DatasetNotFoundError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2

    init_cpu_dist_if_needed(args.launcher, cfg)  # gloo on CPU-only machines
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    if output is not None:
        output.attach(runner)
    metrics = runner.test()
    if output is not None:
        output.finish(metrics)
    shutdown_dist()  # a clean gloo/nccl teardown on every rank
    return 0


if __name__ == '__main__':
    sys.exit(main())
