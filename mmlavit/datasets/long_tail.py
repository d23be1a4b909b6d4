"""Long-tailed view of any classification dataset (CIFAR-100-LT style)."""
import copy
from typing import List, Optional

import numpy as np
from mmengine.dataset import BaseDataset

from mmlavit.registry import register


def long_tail_counts(max_count: int, num_classes: int, imbalance_factor: float) -> List[int]:
    """Exponential profile ``n_c = max_count · imbalance_factor^(−c/(C−1))``, ``c = 0..C−1`` (Cao et al.'s
    CIFAR-LT): class 0 keeps ``max_count``, the last class ``max_count / imbalance_factor`` (at least 1)."""
    if imbalance_factor < 1:
        raise ValueError(f'imbalance_factor must be >= 1 (n_max / n_min), got {imbalance_factor}')
    if num_classes == 1:
        return [max_count]
    # written as Cao et al.'s reference code computes it, so the counts match it exactly (CIFAR-100-LT at
    # factor 100: 10,847 images)
    return [max(1, int(max_count * (1. / imbalance_factor) ** (c / (num_classes - 1.))))
            for c in range(num_classes)]


@register('dataset')
class LongTailDataset:
    """Wrap a classification dataset (anything with ``get_cat_ids(idx)``: mmpretrain's ``CustomDataset``,
    ``CIFAR100``, ``ImageNet``...) and keep an exponentially imbalanced subset of it.

    Class ``c`` (in label order, or in a seeded random order with ``shuffle_classes=True``) keeps
    ``n_max · imbalance_factor^(−rank/(C−1))`` samples, ``n_max`` being the smallest class size of the source
    (so every class can supply its quota); which samples are kept is fixed by ``seed``.

    Config::

        train_dataloader = dict(dataset=dict(type='LongTailDataset', imbalance_factor=100,
                                             dataset=dict(type='CIFAR100', ...)))
    """

    def __init__(self, dataset, imbalance_factor: float = 100., seed: int = 0, shuffle_classes: bool = False,
                 max_count: Optional[int] = None, lazy_init: bool = False):
        from mmengine.registry import DATASETS
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.imbalance_factor = imbalance_factor
        self.seed, self.shuffle_classes, self.max_count = seed, shuffle_classes, max_count
        self._metainfo = copy.deepcopy(getattr(self.dataset, 'metainfo', {}))
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        if isinstance(self.dataset, BaseDataset):
            self.dataset.full_init()
        labels = np.array([int(self.dataset.get_cat_ids(i)[0]) for i in range(len(self.dataset))])
        classes = np.unique(labels)
        per_class = {c: np.flatnonzero(labels == c) for c in classes}
        n_max = self.max_count or min(len(v) for v in per_class.values())
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(classes) if self.shuffle_classes else classes
        counts = long_tail_counts(n_max, len(order), self.imbalance_factor)
        self.class_counts = dict(zip(order.tolist(), counts))
        keep = []
        for c, n in self.class_counts.items():
            idx = per_class[c]
            keep.extend(rng.choice(idx, size=min(n, len(idx)), replace=False).tolist())
        self.indices = sorted(keep)
        self._fully_initialized = True

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, idx: int):
        return self.dataset[self.indices[idx]]

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(self.indices[idx])

    def get_cat_ids(self, idx: int) -> List[int]:
        return self.dataset.get_cat_ids(self.indices[idx])

    def get_gt_labels(self) -> np.ndarray:
        return np.array([self.get_cat_ids(i)[0] for i in range(len(self))])
