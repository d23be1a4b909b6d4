# Copyright (c) mmlavit contributors. List the unreadable images of a config's datasets before training.
"""Scan the images (and segmentation maps) of a config's train/val/test datasets — mmpretrain, mmdet, mmseg or
mmlavit configs — with a progress bar, and list every file that is missing or does not decode. Runs the
format checks of ``tools/train.py`` first (COCO JSON, ADE20K folders, class folders, CSV splits).

Like mmpretrain's ``tools/misc/verify_dataset.py``, but for any scope and for wrapped datasets (Repeat/
Concat/ClassBalanced, ``LongTailDataset``). Exit status: 0 when everything reads, 1 when files are broken
(listed in ``--out-path``), 2 when a dataset path or annotation file is wrong.

Example::

    python tools/misc/verify_dataset.py configs/lavit/mask-rcnn_lavit-t_fpn_synth-coco.py --phase train val
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional, Tuple

from mmengine.config import DictAction
from mmengine.utils import track_parallel_progress, track_progress

import mmlavit  # noqa: F401  (our types, the mmlavit:: scope)
from mmlavit.apis import DatasetNotFoundError, load_config
from mmlavit.apis.data_check import _dataset_cfgs, check_dataset_files, check_dataset_paths


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='List the unreadable images of a config\'s datasets')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--phase', nargs='+', default=['train'], choices=['train', 'val', 'test'],
                        help='which dataloaders\' datasets to scan (default: train)')
    parser.add_argument('--out-path', default='brokenfiles.log',
                        help='where to write the broken files, one "path<TAB>reason" a line (removed when '
                             'none)')
    parser.add_argument('--num-process', type=int, default=1, help='processes reading the files')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, xxx=yyy format')
    return parser.parse_args(argv)


def read_problem(path: str) -> Optional[str]:
    """None if ``path`` reads and decodes as an image, else why not."""
    import mmcv
    from mmengine import fileio
    try:
        img = mmcv.imfrombytes(fileio.get(path), flag='unchanged')
    except Exception as e:  # noqa: BLE001 - every failure of reading/decoding is a broken file
        return f'{type(e).__name__}: {e}'
    return None if img is not None else 'does not decode as an image'


def _check(path: str) -> Tuple[str, Optional[str]]:
    return path, read_problem(path)


def dataset_files(ds_cfg: dict) -> List[str]:
    """Image (and segmentation-map) paths of one leaf dataset config, built with an empty pipeline."""
    from mmengine.registry import DATASETS
    cfg = dict(ds_cfg, pipeline=[])
    if 'lazy_init' in cfg:
        cfg['lazy_init'] = False
    ds = DATASETS.build(cfg)
    if getattr(ds, 'paths', None) is not None:  # the few-shot EpisodicDataset's image list
        return list(ds.paths)
    files = []
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        files += [info[k] for k in ('img_path', 'seg_map_path') if info.get(k)]
    return files


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.config, cfg_options=args.cfg_options)
    from mmengine.registry import init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmlavit'))
    loaders = [f'{p}_dataloader' for p in args.phase]
    scoped = cfg.copy()
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if key not in loaders and key in scoped:
            scoped.pop(key)
    try:
        check_dataset_paths(scoped, args.config)
        check_dataset_files(scoped, args.config)
    except DatasetNotFoundError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    files, seen = [], set()
    for loader, ds in _dataset_cfgs(scoped):
        for f in dataset_files(ds):
            if f not in seen:
                seen.add(f)
                files.append(f)
    print(f'checking {len(files)} files of {", ".join(loaders)}')
    if args.num_process > 1:
        results = track_parallel_progress(_check, files, args.num_process,
                                          chunksize=max(1, len(files) // (args.num_process * 8)))
    else:
        results = track_progress(_check, files)
    broken = [(p, why) for p, why in results if why]
    print()
    if not broken:
        print(f'all {len(files)} files read correctly.')
        if osp.isfile(args.out_path):
            import os
            os.remove(args.out_path)
        return 0
    with open(args.out_path, 'w') as f:
        f.writelines(f'{p}\t{why}\n' for p, why in broken)
    for p, why in broken[:20]:
        print(f'unreadable: {p} ({why})')
    print(f'{len(broken)} of {len(files)} files are broken; the list is in {args.out_path}. Fix or remove '
          'them, '
          'or train with --cfg-options skip_unreadable_images=True to skip them (counted in the log).')
    return 1


if __name__ == '__main__':
    sys.exit(main())
