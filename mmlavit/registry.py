"""One place that registers mmlavit's types into the OpenMMLab registries.

mmlavit keeps its own registries (scope ``mmlavit``, children of mmengine's root registries) and, through
:func:`register`, puts every type into the registries of the same kind of mmpretrain, mmdet and mmseg too.
A stock config with ``default_scope='mmdet'`` (or ``'mmseg'`` / ``'mmpretrain'``) plus
``custom_imports=dict(imports=['mmlavit'])`` therefore builds ``type='LaViT'`` — also when the type is
nested inside another downstream type, with no ``_scope_`` or ``mmlavit.`` prefix needed.

Example::

    from mmlavit.registry import register

    @register('model')
    class LaViT(BaseModule):
        ...
"""
import importlib
from typing import Callable, Dict, Sequence

from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mmlavit', locations=['mmlavit.models'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='mmlavit', locations=['mmlavit.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='mmlavit',
                      locations=['mmlavit.datasets'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='mmlavit', locations=['mmlavit.evaluation'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='mmlavit', locations=['mmlavit.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope='mmlavit', locations=['mmlavit.engine'])

_OURS: Dict[str, Registry] = {
    'model': MODELS, 'dataset': DATASETS, 'transform': TRANSFORMS, 'metric': METRICS, 'hook': HOOKS,
    'loop': LOOPS
}
# The downstream packages whose registries receive our types.
DOWNSTREAM: Sequence[str] = ('mmpretrain', 'mmdet', 'mmseg')
# registry attribute names in ``<pkg>.registry`` for each kind
_ATTR = {'model': 'MODELS', 'dataset': 'DATASETS', 'transform': 'TRANSFORMS', 'metric': 'METRICS',
         'hook': 'HOOKS', 'loop': 'LOOPS'}


def downstream_registries(kind: str):
    """The ``kind`` registries of the installed downstream packages (mmpretrain, mmdet, mmseg)."""
    regs = []
    for pkg in DOWNSTREAM:
        try:
            mod = importlib.import_module(f'{pkg}.registry')
        except ImportError:  # a downstream package that is not installed simply gets nothing
            continue
        regs.append(getattr(mod, _ATTR[kind]))
    return regs


def register(kind: str, name: str = None) -> Callable:
    """Class decorator: register into ``mmlavit``'s and every downstream ``kind`` registry.

    Args:
        kind: one of ``'model'``, ``'dataset'``, ``'transform'``, ``'metric'``, ``'hook'``, ``'loop'``.
        name: registered name; the class name by default.
    """
    if kind not in _OURS:
        raise KeyError(f'unknown registry kind {kind!r}; expected one of {sorted(_OURS)}')

    def _do(cls):
        for reg in (_OURS[kind], *downstream_registries(kind)):
            reg.register_module(name=name, module=cls, force=True)
        return cls

    return _do


def build_model(cfg):
    """Build a nested model config: in the current default scope when there is one (a downstream config's
    ``default_scope``, where our types are registered too), else in mmlavit's own registry."""
    from mmengine.registry import DefaultScope
    if DefaultScope.get_current_instance() is None:
        return MODELS.build(cfg)
    return MMENGINE_MODELS.build(cfg)
