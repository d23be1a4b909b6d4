"""Episodic few-shot data: N-way K-shot tasks with Q queries per class over any labelled image source.

Sources (pick one):

* ``ann_file`` a CSV split with header ``filename,label`` and images under ``data_root/data_prefix`` — the
  miniImageNet (Ravi & Larochelle) and tieredImageNet CSV format;
* ``data_prefix`` alone: class folders ``data_root/data_prefix/<class>/*``;
* ``dataset``: any mmpretrain classification dataset config whose pipeline ends in ``PackInputs`` (e.g.
  ``CIFAR100``), restricted to ``classes`` (names, or a text file with one name per line) — CIFAR-FS and
  FC100 are class splits of CIFAR-100.

Episode ``i`` is drawn from ``numpy.random.default_rng([seed, i])``: the same ``(seed, i)`` always gives the
same task, so meta-test sets are reproducible and meta-training sees ``num_episodes`` distinct tasks. The
sampled classes are relabelled ``0..N-1`` in sampling order; support and query images of a class are
disjoint. An item is a dict of ``support_img`` ``(N·K, 3, H, W)`` uint8, ``support_label`` ``(N·K,)``,
``query_img`` ``(N·Q, 3, H, W)``, ``query_label`` ``(N·Q,)``, ``classes`` (the source's class indices).
"""
import csv
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import Compose

from mmlavit.registry import register

IMG_EXT = ('.jpg', '.jpeg', '.png', '.bmp', '.JPEG', '.JPG', '.PNG')


def read_csv_split(csv_path: str, img_dir: str, check_files: bool = True):
    """``filename,label`` rows -> (image paths, label names).

    Raises ``FileNotFoundError`` for a missing CSV or image folder and ``ValueError`` naming the file and
    the line for a wrong header, a row without exactly two non-empty fields, or (``check_files``) rows whose
    image is missing under ``img_dir`` (the first few listed): checked before training starts."""
    if not osp.isfile(csv_path):
        raise FileNotFoundError(f'few-shot split file {csv_path} not found (ann_file is read relative to '
                                f'data_root)')
    if check_files and not osp.isdir(img_dir):
        raise FileNotFoundError(f'{csv_path}: image folder {img_dir} (data_root/data_prefix) not found')
    paths, labels, missing = [], [], []
    with open(csv_path, newline='') as f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as e:
            raise ValueError(f'{csv_path}: not a readable CSV file ({e})') from e
        if header is None or [h.strip() for h in header] != ['filename', 'label']:
            raise ValueError(f'{csv_path}, line 1: expected the header "filename,label" (miniImageNet CSV '
                             f'format), got {header}')
        try:
            for row in reader:
                line = reader.line_num
                if not row or not any(c.strip() for c in row):
                    continue
                if len(row) != 2 or not row[0].strip() or not row[1].strip():
                    raise ValueError(f'{csv_path}, line {line}: expected "filename,label" (2 non-empty '
                                     f'fields), got {row}')
                path = osp.join(img_dir, row[0].strip())
                if check_files and not osp.isfile(path):
                    missing.append((line, row[0]))
                paths.append(path)
                labels.append(row[1].strip())
        except (csv.Error, UnicodeDecodeError) as e:
            raise ValueError(f'{csv_path}, line {reader.line_num}: not readable as CSV ({e})') from e
    if not paths:
        raise ValueError(f'{csv_path}: no "filename,label" rows after the header')
    if missing:
        shown = ', '.join(f'line {ln}: {name}' for ln, name in missing[:5])
        raise ValueError(f'{csv_path}: {len(missing)} of {len(paths)} rows name images missing under '
                         f'{img_dir} ({shown}{", ..." if len(missing) > 5 else ""})')
    return paths, labels


def read_class_folders(root: str):
    """``root/<class>/<image>`` -> (image paths, label names); a clear error for a missing or empty root."""
    if not osp.isdir(root):
        raise FileNotFoundError(f'class-folder source {root} (data_root/data_prefix) not found')
    paths, labels = [], []
    for cls in sorted(d for d in os.listdir(root) if osp.isdir(osp.join(root, d))):
        for fname in sorted(os.listdir(osp.join(root, cls))):
            if fname.endswith(IMG_EXT):
                paths.append(osp.join(root, cls, fname))
                labels.append(cls)
    if not paths:
        raise ValueError(f'{root}: no images ({", ".join(IMG_EXT[:5])}...) in class folders <class>/*')
    return paths, labels


@register('dataset')
class EpisodicDataset(torch.utils.data.Dataset):
    """Args:
        num_ways, num_shots, num_queries: N, K and Q (queries per class).
        num_episodes: length of the dataset (tasks).
        seed: episode ``i`` is drawn from ``default_rng([seed, i])``.
        data_root, ann_file, data_prefix, dataset, classes: the image source (module docstring).
        pipeline: transforms for one image given ``dict(img_path=...)`` (e.g. LoadImageFromFile + Resize);
            the result's ``img`` (H, W, C) becomes a CHW uint8 tensor. Not used with ``dataset=``.
        cache: keep decoded images in memory (the small variants; leave off for full miniImageNet).
    """

    def __init__(self, num_ways: int = 5, num_shots: int = 1, num_queries: int = 15, num_episodes: int = 600,
                 seed: int = 0, data_root: str = '', ann_file: Optional[str] = None, data_prefix: str = '',
                 dataset: Optional[dict] = None, classes: Optional[Union[str, Sequence[str]]] = None,
                 pipeline: Sequence[dict] = (), cache: bool = False):
        self.num_ways, self.num_shots, self.num_queries = num_ways, num_shots, num_queries
        self.num_episodes, self.seed, self.cache = num_episodes, seed, cache
        self._cache: Dict[int, torch.Tensor] = {}
        self.base = None
        if dataset is not None:
            from mmengine.registry import DATASETS
            self.base = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
            names = list(self.base.metainfo.get('classes') or [])
            labels = [names[self.base.get_cat_ids(i)[0]] if names else str(self.base.get_cat_ids(i)[0])
                      for i in range(len(self.base))]
            self.paths = None
        else:
            if ann_file:
                ann = ann_file if osp.isabs(ann_file) else osp.join(data_root, ann_file)
                self.paths, labels = read_csv_split(ann, osp.join(data_root, data_prefix))
            else:
                self.paths, labels = read_class_folders(osp.join(data_root, data_prefix))
        if classes is not None:
            if isinstance(classes, str):
                classes = [line.strip() for line in open(classes) if line.strip()]
            keep = set(classes)
            missing = keep - set(labels)
            if missing:
                raise ValueError(f'classes not in the source: {sorted(missing)[:5]}')
        else:
            keep = None
        self.class_names = sorted(set(labels) if keep is None else keep)
        index = {c: i for i, c in enumerate(self.class_names)}
        self.by_class: List[List[int]] = [[] for _ in self.class_names]
        for i, lab in enumerate(labels):
            if lab in index:
                self.by_class[index[lab]].append(i)
        if len(self.class_names) < num_ways:
            raise ValueError(f'{num_ways}-way episodes need at least {num_ways} classes; the source has '
                             f"{len(self.class_names)}: set num_ways (the dataset's and model.num_ways) to "
                             f'at most {len(self.class_names)}')
        need = num_shots + num_queries
        small = [(self.class_names[c], len(ix)) for c, ix in enumerate(self.by_class) if len(ix) < need]
        if small:
            raise ValueError(f'{num_shots}-shot episodes with {num_queries} queries need {need} images per '
                             f'class; {len(small)} classes have fewer, e.g. {small[:3]}: lower num_shots / '
                             'num_queries, or leave those classes out of the split')
        self.pipeline = Compose(list(pipeline)) if self.base is None else None
        self.metainfo = dict(classes=tuple(self.class_names))

    def __len__(self) -> int:
        return self.num_episodes

    def sample(self, idx: int):
        """The class indices and (support, query) sample indices of episode ``idx``."""
        rng = np.random.default_rng([self.seed, idx])
        classes = rng.choice(len(self.class_names), self.num_ways, replace=False)
        support, query = [], []
        for c in classes:
            pick = rng.choice(self.by_class[c], self.num_shots + self.num_queries, replace=False)
            support.append(pick[:self.num_shots])
            query.append(pick[self.num_shots:])
        return classes, support, query

    def load(self, i: int) -> torch.Tensor:
        if i in self._cache:
            return self._cache[i]
        if self.base is not None:
            img = self.base[i]['inputs']
        else:
            res = self.pipeline(dict(img_path=self.paths[i]))
            img = torch.from_numpy(np.ascontiguousarray(res['img'].transpose(2, 0, 1)))
        if self.cache:
            self._cache[i] = img
        return img

    def __getitem__(self, idx: int) -> dict:
        classes, support, query = self.sample(idx)
        n, k, q = self.num_ways, self.num_shots, self.num_queries
        s_idx = [int(i) for ix in support for i in ix]
        q_idx = [int(i) for ix in query for i in ix]
        return dict(
            support_img=torch.stack([self.load(i) for i in s_idx]),
            support_label=torch.arange(n).repeat_interleave(k),
            query_img=torch.stack([self.load(i) for i in q_idx]),
            query_label=torch.arange(n).repeat_interleave(q),
            classes=torch.as_tensor(classes), episode=idx)
