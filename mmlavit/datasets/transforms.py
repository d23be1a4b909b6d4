"""Data-pipeline wrappers of mmlavit."""
import copy
from typing import List, Optional

from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

from mmlavit.registry import register


@register('transform')
class SkipUnreadable(BaseTransform):
    """Run a loading transform; when the file cannot be read or decoded, log it and return ``None``.

    mmengine's ``BaseDataset`` (under mmpretrain's, mmdet's and mmseg's datasets) answers ``None`` from its
    pipeline by fetching another, random index (up to the dataset's ``max_refetch`` times), so training goes
    on without the broken sample instead of stopping at mmcv's ``AssertionError: failed to load image``.
    Every skip is logged as a warning with the file, the error and the running count of this process (each
    dataloader worker counts its own). Opt-in: a run that should not silently lose data keeps the default
    (stop). Run ``tools/misc/verify_dataset.py`` to list the broken files up front.

    Config (or ``skip_unreadable_images = True`` at the top level of a config trained with our
    ``tools/train.py``, which wraps every ``LoadImageFromFile`` of the training pipelines)::

        train_pipeline = [dict(type='SkipUnreadable', transform=dict(type='LoadImageFromFile')), ...]

    Args:
        transform (dict): The loading transform to wrap, e.g. ``dict(type='LoadImageFromFile')``.
    """

    def __init__(self, transform: dict) -> None:
        from mmengine.registry import TRANSFORMS
        self.transform_cfg = copy.deepcopy(transform)
        self.inner = TRANSFORMS.build(transform) if isinstance(transform, dict) else transform
        self.skipped = 0

    def transform(self, results: dict) -> Optional[dict]:
        path = results.get('img_path', results.get('filename', '<unknown file>'))
        try:
            out = self.inner(results)
        except (OSError, ValueError, AssertionError) as e:  # missing/unreadable file, failed decode
            out, err = None, f'{type(e).__name__}: {e}'
        else:
            err = None if out is not None else 'the loading transform returned None'
        if out is None:
            self.skipped += 1
            print_log(f'SkipUnreadable: skipped {path} ({err}); {self.skipped} unreadable image(s) skipped '
                      'so '
                      'far by this process', logger='current', level=30)
        return out

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(transform={self.inner!r})'


def wrap_loading_transforms(pipeline: List[dict], loader_type: str = 'LoadImageFromFile') -> List[dict]:
    """``pipeline`` with every ``loader_type`` entry wrapped in :class:`SkipUnreadable` (idempotent)."""
    out = []
    for t in pipeline:
        if isinstance(t, dict) and str(t.get('type', '')).split('.')[-1] == loader_type:
            t = dict(type='SkipUnreadable', transform=t)
        out.append(t)
    return out
