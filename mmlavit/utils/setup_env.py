"""Process-wide set-up that ``import mmlavit`` performs once: the ``mmlavit::`` config scope, safe
loading of mmengine checkpoints under torch's ``weights_only`` default, and config handling that does each
piece of work once per process (:func:`mmlavit_startup.format_each_config_once`,
:func:`mmlavit_startup.read_package_metafiles_once`, :func:`mmlavit_startup.look_up_packages_once`)."""
import codecs

import numpy as np
import torch

import mmlavit_startup


def enable_mmlavit_config_scope() -> None:
    """Make ``_base_ = 'mmlavit::lavit/xxx.py'`` resolve in any config parsed after ``import mmlavit``.

    The adjustments of mmengine (``MODULE2PACKAGE`` learns ``mmlavit``; ``get_installed_path('mmlavit')``
    answers this package's directory, which holds ``.mim/configs``, also for an editable install; an
    ``mmlavit::`` base's typed dicts get the base's own ``default_scope``) live in the top-level module
    :mod:`mmlavit_startup`, which an installed mmlavit also applies at start-up through
    ``mmlavit-startup.pth`` — so the upstream ``tools/train.py`` and ``mim`` parse ``mmlavit::`` bases before
    anything imports mmlavit. Here they are applied to the mmengine modules already imported, for a process
    without the ``.pth`` (a source tree on ``PYTHONPATH``).
    """
    import mmengine.config  # noqa: F401  (loads mmengine.config.config / .utils and mmengine.utils)
    mmlavit_startup.enable_config_scope()


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
        mmlavit_startup.format_each_config_once()
        mmlavit_startup.read_package_metafiles_once()
        mmlavit_startup.look_up_packages_once()
        _DONE = True
