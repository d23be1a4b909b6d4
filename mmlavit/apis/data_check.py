"""Fail fast, before the Runner touches the work dir, when a config's dataset files are missing or
malformed; :func:`check_inputs` runs these and the checkpoint checks of :mod:`.checkpoint_check`."""
import json
import os
import os.path as osp
from typing import Iterable, List, Optional, Tuple

from mmengine.config import Config

# the checkpoint checks were in this module until it was split by concern: importable from here as before
from .checkpoint_check import (CheckpointError, CheckpointMismatchError,  # noqa: F401
                               CheckpointNotFoundError, check_checkpoint_fits, check_pretrained_paths,
                               check_resume_checkpoint, checkpoint_readable)
from .errors import InputCheckError

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
    'CocoDataset': 'COCO 2017: <data_root>/annotations/instances_{train,val}2017.json, '
                   '<data_root>/train2017/, '
                   '<data_root>/val2017/ (https://cocodataset.org)',
    'ADE20KDataset': 'ADEChallengeData2016: <data_root>/images/{training,validation}/*.jpg, '
                     '<data_root>/annotations/{training,validation}/*.png',
    'ImageNet': 'ImageNet-1k: <data_root>/train/<wnid>/*.JPEG, <data_root>/val/ and <data_root>/meta/',
    'MiniImageNet': 'miniImageNet: <data_root>/images/*.jpg and <data_root>/{train,val,test}.csv',
    'EpisodicDataset': 'miniImageNet/tieredImageNet CSV splits: <data_root>/images/*.jpg and '
                       '<data_root>/{train,val,test}.csv with a "filename,label" header',
}


class DatasetNotFoundError(InputCheckError, FileNotFoundError):
    """A dataset path named by the config does not exist."""


class DataFormatError(DatasetNotFoundError, ValueError):
    """A dataset file exists but is malformed (bad JSON, wrong schema, inconsistent folders). A subclass of
    :class:`DatasetNotFoundError` so that the tools' existing ``except`` reports it the same way."""


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
            msg = [f'{config_path}: {loader}.dataset ({dtype or "dataset"}) needs "{path}", which does not '
                   'exist.']
            if dtype in LAYOUT_HINT:
                msg.append(f'Expected layout: {LAYOUT_HINT[dtype]}.')
            msg.append("Point the config at your copy with --cfg-options, e.g. "
                       f"--cfg-options {loader}.dataset.data_root=/path/to/data (and the other loaders' and "
                       "evaluators' paths),")
            generate = cfg.get('data_command') or GENERATE_HINT.get(dtype)  # a config may name its own
            if generate:
                small = cfg.get('offline_config')
                msg.append(f'or generate the small offline dataset with `{generate}`'
                           + (f' and train the offline config {small}.' if small else '.'))
            raise DatasetNotFoundError(' '.join(msg))


IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')
# A full JSON parse of larger annotation files (COCO train2017: 448 MB) costs seconds and GBs of memory on
# every rank: above this size only the file's two ends are checked (a truncated download / a cut-off write).
FULL_JSON_CHECK_MAX_BYTES = 200 * 2**20
# the keys mmdet's CocoDataset (and pycocotools' index) read from each entry
_COCO_KEYS = dict(images=('id', 'file_name', 'width', 'height'),
                  annotations=('id', 'image_id', 'category_id', 'bbox', 'area'),
                  categories=('id', 'name'))


def _ds_path(ds: dict, key: str) -> Optional[str]:
    path = ds.get(key)
    if not isinstance(path, str) or not path or '://' in path:
        return None
    root = ds.get('data_root') or ''
    return path if osp.isabs(path) or not root else osp.join(root, path)


def check_coco_json(path: str, classes: Optional[Iterable[str]] = None) -> None:
    """Raise :class:`DataFormatError` naming ``path`` and the problem when it is not a COCO instances file.

    Checks: valid JSON (the parser's message with line and column, and the file size, for a truncated file),
    a top-level object with ``images``, ``annotations`` and ``categories`` lists whose entries carry the keys
    mmdet reads (``bbox`` of 4 numbers), annotations that point at listed images and categories, and
    (``classes``, the config's ``metainfo.classes``) class names present among the categories — mmdet
    silently drops the others and may train on nothing. Files above ``FULL_JSON_CHECK_MAX_BYTES`` get only
    the truncation check of their ends.
    """
    size = osp.getsize(path)
    hint = ('Re-download or regenerate it (python tools/dataset_converters/generate_data.py coco <root>) '
            'or point ann_file at a valid COCO instances_*.json.')
    if size == 0:
        raise DataFormatError(f'annotation file {path} is empty (0 bytes). {hint}')
    if size > FULL_JSON_CHECK_MAX_BYTES:
        with open(path, 'rb') as f:
            head = f.read(64).lstrip()
            f.seek(max(0, size - 64))
            tail = f.read().rstrip()
        if not head.startswith(b'{') or not tail.endswith(b'}'):
            raise DataFormatError(f'annotation file {path} ({size} bytes) does not start with '
                                  f'"{{" and end with '
                                  f'"}}": not a COCO JSON object, or truncated. {hint}')
        return
    try:
        with open(path, 'rb') as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise DataFormatError(f'annotation file {path} is not valid JSON: {e.msg} at line {e.lineno} column '
                              f'{e.colno} (char {e.pos} of {size} '
                              f'bytes{"; truncated?" if e.pos >= size - 1 else ""}'
                              f'). {hint}') from None
    except UnicodeDecodeError as e:
        raise DataFormatError(f'annotation file {path} is not UTF-8 JSON text ({e}). {hint}') from None
    if not isinstance(data, dict):
        raise DataFormatError(f'annotation file {path}: expected a JSON object with "images", "annotations" '
                              f'and "categories" (COCO format), got a {type(data).__name__}. {hint}')
    ids = {}
    for key, fields in _COCO_KEYS.items():
        items = data.get(key)
        if not isinstance(items, list):
            raise DataFormatError(f'annotation file {path}: "{key}" is '
                                  + ('missing' if items is None else f'a {type(items).__name__}, not a list')
                                  + f' (COCO instances format: images, annotations, categories). {hint}')
        for i, item in enumerate(items):
            missing = [k for k in fields if not isinstance(item, dict) or k not in item]
            if missing:
                raise DataFormatError(f'annotation file {path}: {key}[{i}] has no {", ".join(missing)} '
                                      f'(got {str(item)[:120]}). {hint}')
        if key != 'annotations':
            ids[key] = {item['id'] for item in items}
    for i, ann in enumerate(data['annotations']):
        bbox = ann.get('bbox')
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
            raise DataFormatError(f'annotation file {path}: annotations[{i}] (id {ann["id"]}) has bbox '
                                  f'{bbox!r}; '
                                  f'expected [x, y, width, height]. {hint}')
        if ann['image_id'] not in ids['images']:
            raise DataFormatError(f'annotation file {path}: annotations[{i}] (id {ann["id"]}) refers to '
                                  f'image_id {ann["image_id"]}, which is not in "images". {hint}')
        if ann['category_id'] not in ids['categories']:
            raise DataFormatError(f'annotation file {path}: annotations[{i}] (id {ann["id"]}) refers to '
                                  f'category_id {ann["category_id"]}, which is not in "categories". {hint}')
    if classes:
        names = {c['name'] for c in data['categories']}
        absent = [c for c in classes if c not in names]
        if absent:
            raise DataFormatError(f'annotation file {path}: the config\'s metainfo classes {absent[:5]} are '
                                  'not '
                                  f'among its categories ({sorted(names)[:10]}); mmdet would drop them '
                                  'silently. '
                                  'Fix metainfo.classes or the annotation file.')


def _image_files(folder: str) -> List[str]:
    return [f for f in os.listdir(folder) if f.lower().endswith(IMG_EXTENSIONS)]


def check_class_folders(root: str, reference: Optional[str] = None) -> List[str]:
    """Check a ``root/<class>/<image>`` tree (mmpretrain's ``CustomDataset`` without ``ann_file``) and return
    its class names. Raises :class:`DataFormatError` for a root without class folders, class folders without
    images, or (``reference``: the train split's root) a class list that differs from the reference's —
    ``CustomDataset`` numbers classes by sorted folder name per split, so a val split lacking one class would
    evaluate with shifted labels."""
    classes = sorted(d for d in os.listdir(root) if osp.isdir(osp.join(root, d)))
    if not classes:
        if _image_files(root):
            return []  # a flat folder of images (unlabelled / ann_file elsewhere): nothing to check here
        raise DataFormatError(f'{root}: no class folders (expected <root>/<class>/*.jpg, one folder per '
                              'class).')
    empty = [c for c in classes if not _image_files(osp.join(root, c))]
    if empty:
        raise DataFormatError(f'{root}: {len(empty)} of {len(classes)} class folders hold no image '
                              f'({", ".join(IMG_EXTENSIONS[:5])}, ...): {empty[:5]}. Remove them or add the '
                              'images.')
    if reference is not None:
        ref = sorted(d for d in os.listdir(reference) if osp.isdir(osp.join(reference, d)))
        if ref and ref != classes:
            only_ref, only_here = sorted(set(ref) - set(classes)), sorted(set(classes) - set(ref))
            raise DataFormatError(
                f'{root}: its class folders differ from those of {reference} (missing here: {only_ref[:5]}, '
                f'extra here: {only_here[:5]}); class indices are assigned by sorted folder name, so labels '
                'would '
                'not match. Give both splits the same class folders (or a classes= list in the config).')
    return classes


def check_seg_folders(img_dir: str, ann_dir: str, img_suffix: str = '.jpg',
                      seg_map_suffix: str = '.png') -> None:
    """ADE20K-style ``img_dir/*<img_suffix>`` with one ``ann_dir/*<seg_map_suffix>`` each (mmseg's
    ``BaseSegDataset`` builds the map paths without checking them: a missing one fails mid-epoch)."""
    imgs = sorted(f[:-len(img_suffix)] for f in os.listdir(img_dir) if f.endswith(img_suffix))
    if not imgs:
        raise DataFormatError(f'{img_dir}: no images with suffix "{img_suffix}" (ADE20K layout: '
                              'images/{training,validation}/*.jpg, annotations/{training,validation}/*.png).')
    maps = {f[:-len(seg_map_suffix)] for f in os.listdir(ann_dir) if f.endswith(seg_map_suffix)}
    missing = [i for i in imgs if i not in maps]
    if missing:
        raise DataFormatError(f'{ann_dir}: {len(missing)} of {len(imgs)} images of {img_dir} have no '
                              f'segmentation map "<name>{seg_map_suffix}" here, e.g. '
                              f'{[m + seg_map_suffix for m in missing[:3]]}.')


def check_dataset_files(cfg: Config, config_path: str = '<config>') -> None:
    """Cheap format checks of the config's annotation files and folders (after :func:`check_dataset_paths`):
    COCO JSON (:func:`check_coco_json`), ADE20K image/map folders (:func:`check_seg_folders`), class folders
    (:func:`check_class_folders`, val/test against train) and few-shot CSV splits (the few-shot dataset's
    ``read_csv_split``). Errors are prefixed with the config and the loader."""
    train_classes_root = None
    for loader, ds in _dataset_cfgs(cfg):
        dtype = str(ds.get('type', '')).split('.')[-1]
        prefix = ds.get('data_prefix')
        prefix = dict(img=prefix) if isinstance(prefix, str) else dict(prefix or {})
        try:
            ann = _ds_path(ds, 'ann_file')
            if ann and ann.endswith('.json') and osp.isfile(ann) and ('Coco' in dtype or 'COCO' in dtype):
                classes = (ds.get('metainfo') or {}).get('classes')
                check_coco_json(ann, classes)
            elif 'img_path' in prefix and 'seg_map_path' in prefix and not ds.get('ann_file'):
                img_dir = _ds_path(dict(ds, p=prefix['img_path']), 'p')
                seg_dir = _ds_path(dict(ds, p=prefix['seg_map_path']), 'p')
                if img_dir and seg_dir and osp.isdir(img_dir) and osp.isdir(seg_dir):
                    check_seg_folders(img_dir, seg_dir, ds.get('img_suffix', '.jpg'),
                                      ds.get('seg_map_suffix', '.png'))
            elif dtype in ('CustomDataset', 'ImageNet') and not ds.get('ann_file') and prefix.get('img'):
                root = _ds_path(dict(ds, p=prefix['img']), 'p')
                if root and osp.isdir(root):
                    ref = train_classes_root if loader != 'train_dataloader' else None
                    check_class_folders(root, ref if ref != root else None)
                    if loader == 'train_dataloader':
                        train_classes_root = root
            elif dtype == 'EpisodicDataset' and ann and ann.endswith('.csv'):
                from mmlavit.datasets.fewshot import read_csv_split
                try:
                    read_csv_split(ann, osp.join(ds.get('data_root') or '', prefix.get('img', '')))
                except ValueError as e:
                    raise DataFormatError(str(e)) from None
        except DataFormatError as e:
            raise DataFormatError(f'{config_path}: {loader}.dataset ({dtype or "dataset"}): {e}') from None


def _count_skips(pipeline) -> int:
    return sum(isinstance(t, dict) and str(t.get('type')) == 'SkipUnreadable' for t in pipeline)


def apply_skip_unreadable(cfg: Config) -> int:
    """With ``skip_unreadable_images=True`` in the config (opt-in, e.g. ``--cfg-options
    skip_unreadable_images=True``), wrap every ``LoadImageFromFile`` of the training datasets' pipelines in
    :class:`~mmlavit.datasets.SkipUnreadable`; returns how many were wrapped."""
    if not cfg.get('skip_unreadable_images', False):
        return 0
    from mmlavit.datasets.transforms import wrap_loading_transforms
    n = 0
    for loader, ds in _dataset_cfgs(cfg):
        if loader == 'train_dataloader' and isinstance(ds.get('pipeline'), (list, tuple)):
            before = _count_skips(ds['pipeline'])
            ds['pipeline'] = wrap_loading_transforms(list(ds['pipeline']))
            n += _count_skips(ds['pipeline']) - before
    return n


def check_inputs(cfg: Config, config_path: str = '<config>') -> None:
    """All fail-fast checks of the tools (each raises an :class:`~.errors.InputCheckError`): dataset paths
    and file formats, pretrained and teacher checkpoints, the checkpoint ``--resume`` would load and the fit
    of ``load_from`` / ``init_cfg`` checkpoints; also applies the opt-in ``skip_unreadable_images`` switch
    (:func:`apply_skip_unreadable`)."""
    apply_skip_unreadable(cfg)
    check_dataset_paths(cfg, config_path)
    check_dataset_files(cfg, config_path)
    check_pretrained_paths(cfg, config_path)
    check_resume_checkpoint(cfg)
    check_checkpoint_fits(cfg, config_path)
