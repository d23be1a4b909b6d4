"""``--auto-scale-lr``, ``--tta`` and ``--out`` of ``tools/train.py`` / ``tools/test.py``: what the upstream
tool of the config's ``default_scope`` does (mmpretrain's, mmdet's or mmseg's own ``tools/*.py``, in their
wheels under ``.mim/tools``). One row per scope (:data:`UPSTREAM`):

- **mmpretrain**: ``--auto-scale-lr`` sets ``auto_scale_lr.enable`` (needs ``base_batch_size``); ``--tta``
  without ``tta_model`` / ``tta_pipeline`` uses ``AverageClsScoreTTA`` over {flip, no flip}; ``--out x.pkl``
  dumps the predictions (``DumpResults``), ``--out-item metrics`` the returned metrics instead.
- **mmdet**: ``--auto-scale-lr`` needs ``auto_scale_lr.enable`` and ``base_batch_size`` in the config;
  default TTA ``DetTTAModel`` (NMS IoU 0.5, 100 per image) over {flip, no flip}; ``--out x.pkl`` appends
  ``DumpDetResults`` (masks RLE-encoded).
- **mmseg**: its tool has no ``--auto-scale-lr`` (ours: as mmpretrain); no default TTA (mmseg's dataset bases
  and default runtime carry ``tta_pipeline`` / ``tta_model``); ``--out DIR`` sets ``output_dir=DIR,
  keep_results=True`` on ``IoUMetric``, which writes one PNG of label ids per image.
- other scopes: as mmpretrain for ``--auto-scale-lr``, no default TTA, ``DumpResults``.

Where we differ from upstream (ours): the TTA pipeline replaces the innermost wrapped dataset's pipeline
(mmdet's tool sets it on the wrapper), and a missing key is an error naming it instead of an
``AttributeError`` / ``KeyError``.
"""
import copy
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Optional

from mmengine.config import Config, ConfigDict


class ToolFlagError(ValueError):
    """A tool flag that the config cannot support (says which key to add)."""


def _innermost_dataset(dataset_cfg):
    while 'dataset' in dataset_cfg:
        dataset_cfg = dataset_cfg['dataset']
    return dataset_cfg


def _cls_flip_tta(cfg: Config) -> None:
    """mmpretrain's ``tools/test.py``: average the class scores of the image and its horizontal flip."""
    pipeline = _innermost_dataset(cfg.test_dataloader.dataset).pipeline
    cfg.tta_model = cfg.get('tta_model', dict(type='AverageClsScoreTTA'))
    if 'tta_pipeline' not in cfg:
        tta = copy.deepcopy(list(pipeline))
        tta[-1] = dict(type='TestTimeAug', transforms=[
            [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)], [pipeline[-1]]])
        cfg.tta_pipeline = tta


def _det_flip_tta(cfg: Config) -> None:
    """mmdet's ``tools/test.py``: merge the boxes of the image and its flip with NMS (IoU 0.5, 100 kept)."""
    pipeline = _innermost_dataset(cfg.test_dataloader.dataset).pipeline
    cfg.tta_model = cfg.get('tta_model', dict(
        type='DetTTAModel', tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100)))
    if 'tta_pipeline' not in cfg:
        tta = copy.deepcopy(list(pipeline))
        tta[-1] = dict(type='TestTimeAug', transforms=[
            [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
            [dict(type='PackDetInputs',
                  meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                             'flip_direction'))]])
        cfg.tta_pipeline = tta


class DumpPredictions:
    """mmpretrain / mmengine: ``--out file.pkl`` dumps the predictions (``DumpResults``); with
    ``out_item='metrics'`` the returned metrics are dumped instead (any format ``mmengine.dump`` writes)."""

    def __init__(self, out: str, out_item: Optional[str] = None):
        self.out, self.out_item = out, out_item
        if out_item in (None, 'pred') and not out.endswith(('.pkl', '.pickle')):
            raise ToolFlagError(f'--out {out}: the predictions are dumped as a pickle; use a .pkl file name')

    def configure(self, cfg: Config) -> None:
        pass

    def attach(self, runner) -> None:
        if self.out_item in (None, 'pred'):
            from mmengine.evaluator import DumpResults
            runner.test_evaluator.metrics.append(DumpResults(out_file_path=self.out))

    def finish(self, metrics: dict) -> None:
        if self.out_item == 'metrics':
            import mmengine
            mmengine.dump(metrics, self.out)


class DumpDetPredictions(DumpPredictions):
    """mmdet: ``--out file.pkl`` appends ``DumpDetResults`` (instance masks RLE-encoded)."""

    def attach(self, runner) -> None:
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=self.out))


class SegPredictionDir(DumpPredictions):
    """mmseg: ``--out DIR`` makes ``IoUMetric`` write each prediction as a PNG of label ids into ``DIR``."""

    def __init__(self, out: str, out_item: Optional[str] = None):
        self.out, self.out_item = out, out_item

    def configure(self, cfg: Config) -> None:
        evaluators = cfg.test_evaluator
        for ev in evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]:
            ev['output_dir'] = self.out
            ev['keep_results'] = True
        os.makedirs(osp.abspath(self.out), exist_ok=True)

    def attach(self, runner) -> None:
        pass


@dataclass(frozen=True)
class ScopeTools:
    """One row of the table above.

    Args:
        auto_scale_lr_keys (tuple): keys ``--auto-scale-lr`` needs in the config's ``auto_scale_lr``.
        default_tta (callable, optional): fills ``tta_model`` / ``tta_pipeline`` when missing; None: the
            config must have both.
        output (type): the ``--out`` behaviour.
    """
    auto_scale_lr_keys: tuple
    default_tta: Optional[Callable[[Config], None]]
    output: type


UPSTREAM = {
    'mmpretrain': ScopeTools(('base_batch_size', ), _cls_flip_tta, DumpPredictions),
    'mmdet': ScopeTools(('enable', 'base_batch_size'), _det_flip_tta, DumpDetPredictions),
    'mmseg': ScopeTools(('base_batch_size', ), None, SegPredictionDir),
}
_OTHER = ScopeTools(('base_batch_size', ), None, DumpPredictions)


def scope_tools(cfg: Config) -> ScopeTools:
    """The row of the config's ``default_scope``."""
    return UPSTREAM.get(cfg.get('default_scope'), _OTHER)


def enable_auto_scale_lr(cfg: Config, source: str = '<config>') -> None:
    """``--auto-scale-lr``: switch on mmengine's LR scaling (``lr * real batch / base_batch_size``)."""
    keys = scope_tools(cfg).auto_scale_lr_keys
    have = cfg.get('auto_scale_lr') or {}
    missing = [k for k in keys if k not in have]
    if missing:
        raise ToolFlagError(
            f'--auto-scale-lr: {source} has no {" / ".join("auto_scale_lr." + k for k in missing)}. Add e.g. '
            '`auto_scale_lr = dict(enable=False, base_batch_size=<total batch size the LR was set for>)` to '
            'the config, or --cfg-options auto_scale_lr.base_batch_size=<N>'
            + (' auto_scale_lr.enable=False' if 'enable' in missing else ''))
    cfg.auto_scale_lr.enable = True


def apply_tta(cfg: Config, source: str = '<config>') -> None:
    """``--tta``: wrap the model in ``tta_model`` and test on ``tta_pipeline`` (the scope's default when the
    config has none and the upstream tool has one)."""
    default = scope_tools(cfg).default_tta
    if default is not None:
        default(cfg)
    missing = [k for k in ('tta_model', 'tta_pipeline') if k not in cfg]
    if missing:
        raise ToolFlagError(f'--tta: {source} has no {" / ".join(missing)} and the '
                            f'{cfg.get("default_scope")} tool has no default for it; add them to the config '
                            '(mmseg: see '
                            "mmseg::_base_/datasets/ade20k.py and dict(type='SegTTAModel'))")
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    _innermost_dataset(cfg.test_dataloader.dataset).pipeline = cfg.tta_pipeline


def output_for(cfg: Config, out: str, out_item: Optional[str] = None) -> DumpPredictions:
    """The ``--out`` behaviour of the config's scope; ``--out-item`` is mmpretrain's only."""
    if out_item is not None and cfg.get('default_scope') not in ('mmpretrain', None):
        scope = cfg.get('default_scope')
        raise ToolFlagError(f'--out-item is an mmpretrain flag; this config is {scope}\'s')
    return scope_tools(cfg).output(out, out_item)
