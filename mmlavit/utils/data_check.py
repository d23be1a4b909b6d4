"""Fail fast, before the Runner touches the work dir, when a config's dataset files are missing."""
import os.path as osp
from typing import Iterable, List, Tuple

from mmengine.config import Config

# Where to get the data for each dataset type: the small generated variant, and the real data set's layout.
GENERATE_HINT = {
    'CocoDataset': 'python tools/dataset_converters/generate_data.py coco data/synthetic_coco',
    'ADE20KDataset': 'python tools/dataset_converters/generate_data.py ade20k data/synthetic_ade20k',
    'CustomDataset': 'python tools/dataset_converters/generate_data.py imagenet data/synthetic_imagenet',
    'ImageNet': 'python tools/dataset_converters/generate_data.py imagenet data/synthetic_imagenet',
    'MiniImageNet': 'python tools/dataset_converters/generate_data.py fewshot data/synthetic_fewshot',
    'EpisodicDataset': 'python tools/dataset_converters/generate_data.py fewshot data/synthetic_fewshot',
}
LAYOUT_HINT = {
    'CocoDataset': 'COCO 2017: <data_root>/annotations/instances_{train,val}2017.json, <data_root>/train2017/, '
                   '<data_root>/val2017/ (https://cocodataset.org)',
    'ADE20KDataset': 'ADEChallengeData2016: <data_root>/images/{training,validation}/*.jpg, '
                     '<data_root>/annotations/{training,validation}/*.png',
    'ImageNet': 'ImageNet-1k: <data_root>/train/<wnid>/*.JPEG, <data_root>/val/ and <data_root>/meta/',
    'MiniImageNet': 'miniImageNet: <data_root>/images/*.jpg and <data_root>/{train,val,test}.csv',
    'EpisodicDataset': 'miniImageNet/tieredImageNet CSV splits: <data_root>/images/*.jpg and '
                       '<data_root>/{train,val,test}.csv with a "filename,label" header',
}


class DatasetNotFoundError(FileNotFoundError):
    """A dataset path named by the config does not exist."""


def _dataset_cfgs(cfg: Config) -> Iterable[Tuple[str, dict]]:
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = (cfg.get(loader) or {}).get('dataset')
        stack = [ds] if ds else []
        while stack:  # unwrap RepeatDataset / ConcatDataset / ClassBalancedDataset / our wrappers
            d = stack.pop()
            if isinstance(d, (list, tuple)):
                stack.extend(d)
            elif isinstance(d, dict):
                if 'dataset' in d:
                    stack.append(d['dataset'])
                elif 'datasets' in d:
                    stack.extend(d['datasets'])
                else:
                    yield loader, d


def _paths(ds: dict) -> List[str]:
    root = ds.get('data_root') or ''
    out = []
    if root:
        out.append(root)
    ann = ds.get('ann_file')
    if ann:
        out.append(ann if osp.isabs(ann) or not root else osp.join(root, ann))
    prefix = ds.get('data_prefix')
    if isinstance(prefix, str):
        prefix = dict(img=prefix)
    for p in (prefix or {}).values():
        if isinstance(p, str) and p:
            out.append(p if osp.isabs(p) or not root else osp.join(root, p))
    return out


def check_dataset_paths(cfg: Config, config_path: str = '<config>') -> None:
    """Raise :class:`DatasetNotFoundError` naming the first missing path and how to get the data.

    Only local paths are checked (remote backends such as ``s3://`` are left to the file client).
    """
    for loader, ds in _dataset_cfgs(cfg):
        for path in _paths(ds):
            if '://' in path or osp.exists(path):
                continue
            dtype = str(ds.get('type', '')).split('.')[-1]
            msg = [f'{config_path}: {loader}.dataset ({dtype or "dataset"}) needs "{path}", which does not exist.']
            if dtype in LAYOUT_HINT:
                msg.append(f'Expected layout: {LAYOUT_HINT[dtype]}.')
            msg.append("Point the config at your copy with --cfg-options, e.g. "
                       f"--cfg-options {loader}.dataset.data_root=/path/to/data (and the other loaders' and evaluators' paths),")
            generate = cfg.get('data_command') or GENERATE_HINT.get(dtype)  # a config may name its own
            if generate:
                small = cfg.get('offline_config')
                msg.append(f'or generate the small offline dataset with `{generate}`'
                           + (f' and train the offline config {small}.' if small else '.'))
            raise DatasetNotFoundError(' '.join(msg))


def _pretrained(node, path='model'):
    """Yield (config key, checkpoint) of every ``init_cfg=dict(type='Pretrained', checkpoint=...)``."""
    if isinstance(node, dict):
        init = node.get('init_cfg')
        for item in (init if isinstance(init, list) else [init]):
            if isinstance(item, dict) and item.get('type') == 'Pretrained' and item.get('checkpoint'):
                yield f'{path}.init_cfg', item['checkpoint']
        for k, v in node.items():
            if k not in ('init_cfg', 'teacher'):  # a teacher's weights come from its own checkpoint
                yield from _pretrained(v, f'{path}.{k}')
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _pretrained(v, f'{path}[{i}]')


def check_pretrained_paths(cfg: Config, config_path: str = '<config>') -> None:
    """Raise :class:`DatasetNotFoundError` when a local ``Pretrained`` checkpoint of the model is missing
    (remote URLs and ``open-mmlab://``-style names are left to mmengine)."""
    for key, ckpt in _pretrained(cfg.get('model')):
        if '://' in ckpt or osp.exists(ckpt):
            continue
        hint = cfg.get('pretrain_config')
        raise DatasetNotFoundError(
            f'{config_path}: {key} loads "{ckpt}", which does not exist. '
            + (f'Train it first with `python tools/train.py {hint}`, ' if hint else 'Point it at your checkpoint, ')
            + f'or train from scratch with --cfg-options {key}=None.')
    teacher = (cfg.get('model') or {}).get('teacher')
    if isinstance(teacher, dict) and teacher.get('checkpoint'):
        ckpt = teacher['checkpoint']
        if '://' not in ckpt and not osp.exists(ckpt):
            how = (f'python tools/train.py {teacher["config"]}' if teacher.get('config')
                   else 'the teacher\'s config')
            raise DatasetNotFoundError(
                f'{config_path}: the distiller\'s teacher checkpoint "{ckpt}" does not exist. Train the teacher '
                f'first with `{how}` (see the config\'s header), or point distiller.teacher.checkpoint at it.')


def check_inputs(cfg: Config, config_path: str = '<config>') -> None:
    """All fail-fast checks of the tools: dataset paths and pretrained checkpoints."""
    check_dataset_paths(cfg, config_path)
    check_pretrained_paths(cfg, config_path)
