"""Process-wide set-up that ``import mmlavit`` performs once: the ``mmlavit::`` config scope and safe
loading of mmengine checkpoints under torch's ``weights_only`` default."""
import codecs
import os.path as osp

import numpy as np
import torch


def enable_mmlavit_config_scope() -> None:
    """Make ``_base_ = 'mmlavit::lavit/xxx.py'`` resolve in any config parsed after ``import mmlavit``.

    mmengine resolves ``pkg::`` bases only for the packages in its fixed ``MODULE2PACKAGE`` table and finds
    the package through its distribution location, which for an editable (``pip install -e``) install is
    ``site-packages`` rather than the source tree. We add ``mmlavit`` to the table and answer the location
    lookup for ``mmlavit`` with this package's directory (which holds ``.mim/configs``). Other packages are
    looked up exactly as before.

    Where it does not work: a process that parses a config using ``mmlavit::`` *before* importing mmlavit
    (e.g. mmdet's own ``tools/train.py``: ``custom_imports`` is applied only after the config is parsed).
    Use our ``tools/train.py`` / ``tools/test.py``, import mmlavit first, or use a relative ``_base_`` path.
    """
    from mmengine.config import config as config_mod
    from mmengine.config import utils as config_utils

    config_utils.MODULE2PACKAGE.setdefault('mmlavit', 'mmlavit')
    original = config_mod.get_installed_path
    if getattr(original, '_mmlavit', False):
        return
    here = osp.dirname(osp.dirname(osp.abspath(__file__)))

    def get_installed_path(package: str) -> str:
        if package == 'mmlavit':
            return here
        return original(package)

    get_installed_path._mmlavit = True
    config_mod.get_installed_path = get_installed_path
    _stamp_mmlavit_bases_with_their_default_scope(config_mod.Config)


def _stamp_mmlavit_bases_with_their_default_scope(config_cls) -> None:
    """Give the typed dicts of an ``mmlavit::`` base the base config's own ``default_scope`` as ``_scope_``.

    While merging a ``pkg::`` base, mmengine (``Config._file2dict``) passes the base's parsed dict to
    ``Config._dict_to_config_dict(cfg, scope=pkg)``, which stamps ``_scope_=pkg`` on each outermost dict with
    a ``type`` (``model``, each dataset, evaluator, hook, optimizer wrapper, ...) and records ``pkg`` for
    variables read through ``_base_.xxx``. For mmdet/mmseg/mmpretrain the package is also the registry scope
    of their configs. Ours are not: an mmlavit config builds in the scope of the toolbox it extends
    (``default_scope='mmpretrain'`` / ``'mmdet'`` / ``'mmseg'``), so ``_scope_='mmlavit'`` sent
    ``ImageClassifier`` or ``CocoDataset`` to mmlavit's registry, which does not hold them. We stamp the base
    config's ``default_scope`` instead (all our types are registered there too, see
    :mod:`mmlavit.registry`); a base without ``default_scope`` keeps mmengine's ``'mmlavit'``.

    Limits: only the pure-Python (non-``lazy_import``) config style is covered, as all shipped configs are;
    a user config that overrides ``default_scope`` does not change the scope of the dicts it inherits (the
    stamp wins, as it does for any ``pkg::`` base).
    """
    original = config_cls.__dict__['_dict_to_config_dict'].__func__
    if getattr(original, '_mmlavit', False):
        return

    def _dict_to_config_dict(cfg, scope=None, has_scope=True):
        # Only the call on a whole mmlavit base config matters: nested calls already carry the new scope.
        if scope == 'mmlavit' and isinstance(cfg, dict) and isinstance(cfg.get('default_scope'), str):
            scope = cfg['default_scope']
        return original(cfg, scope=scope, has_scope=has_scope)

    _dict_to_config_dict._mmlavit = True
    config_cls._dict_to_config_dict = staticmethod(_dict_to_config_dict)


def allow_mmengine_checkpoint_types() -> None:
    """Allow exactly the non-tensor types that mmengine 0.10.7 writes into its checkpoints.

    Since torch 2.6 ``torch.load`` defaults to ``weights_only=True`` and mmengine 0.10.7 calls it without
    the argument, so ``--resume`` and ``load_from`` of mmengine's own checkpoints fail on the message hub's
    ``HistoryBuffer`` and the numpy arrays/scalars inside it. Rather than switching the safety off, we add
    those types to torch's allow-list of safe globals (``torch.serialization.add_safe_globals``).

    Limitation: checkpoints written by mmengine *without* mmlavit imported may hold ``getattr`` records
    (see below) and still need ``weights_only=False`` from a trusted source.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4: weights_only is not the default, nothing to do
        return
    from mmengine.logging.history_buffer import HistoryBuffer

    # A HistoryBuffer may carry a dict of its statistics *functions* in its instance state, which pickle
    # writes as ``getattr(HistoryBuffer, 'min')``; allowing ``getattr`` would open attribute access on any
    # allowed object. Instead buffers pickle as their constructor call with plain arrays — still loadable
    # by a stock mmengine — and only the data types below need allowing.
    if '__reduce__' not in vars(HistoryBuffer):
        HistoryBuffer.__reduce__ = lambda self: (HistoryBuffer, (self._log_history, self._count_history,
                                                                 self.max_length))

    core = np._core if hasattr(np, '_core') else np.core  # numpy 2 renamed numpy.core
    safe = [HistoryBuffer, np.ndarray, np.dtype, core.multiarray._reconstruct, core.multiarray.scalar,
            codecs.encode]
    # numpy >= 1.25 pickles dtypes by their class (numpy.dtypes.Float64DType, ...)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        safe += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    add(safe)


_DONE = False


def setup_mmlavit_env() -> None:
    """Idempotent; called by ``import mmlavit``."""
    global _DONE
    if not _DONE:
        enable_mmlavit_config_scope()
        allow_mmengine_checkpoint_types()
        _DONE = True
