"""Save every random state a training run depends on in its checkpoints, so that ``--resume`` continues the
same run exactly."""
import random
from functools import partial
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop

from mmlavit.registry import register

KEY = 'rng_state'  # the checkpoint entry written by RandomStateHook


def capture_rng_state() -> dict:
    """Python's, numpy's and torch's (CPU and every CUDA device's) global generator states, as plain types
    (lists, ints, tensors) that ``torch.load(weights_only=True)`` reads back."""
    version, mt, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(python=[version, list(mt), gauss],
                 numpy=[name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Set the global generators to a state returned by :func:`capture_rng_state`."""
    version, mt, gauss = state['python']
    random.setstate((version, tuple(mt), gauss))
    name, keys, pos, has_gauss, cached = state['numpy']
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state['torch'])
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


@register('hook')
class RandomStateHook(Hook):
    """Make ``--resume`` continue the interrupted run exactly (with a fixed seed and deterministic kernels).

    What a resumed mmengine run gets wrong without it: the Runner re-seeds Python, numpy and torch at start-up
    (and again in ``Runner.resume`` when the checkpoint's seed differs from the config's, e.g. with
    ``seed=None``), so after resuming epoch *k* the generators are in their epoch-0 state instead of where the
    uninterrupted run had left them; with ``seed=None`` the sampler's shuffling seed and the workers' seeds
    are new random ones too.

    What the hook does:

    - ``before_save_checkpoint``: writes ``checkpoint['rng_state']`` — Python's, numpy's, torch's CPU (and
      CUDA, where present) generator states, the train sampler's ``seed`` and the dataloader workers' seed.
    - ``after_load_checkpoint`` (``--resume``): gives the sampler and the workers their saved seeds and keeps
      the generator states for later.
    - The saved states are applied at the start of the next training epoch (epoch-based loops:
      ``before_train_epoch``) or iteration (``IterBasedTrainLoop``: ``before_train_iter``) — in the resumed
      run *and* in the uninterrupted one. The point of applying them in the uninterrupted run too is that the
      validation that follows a checkpoint draws from torch's generator (dataloader seeds), which the resumed
      run does not repeat; with the state re-applied after it, training's random stream does not depend on
      whether (or how often) validation ran. (Ours; with a checkpoint of the same position written twice, e.g.
      the ``save_best`` one after validation, the first snapshot is kept.)

    What stays outside: the random state *inside* persistent dataloader workers (``persistent_workers=True``
    with ``num_workers > 0``) of an epoch-based loop lives in those processes and cannot be saved; the hook
    warns, and ``persistent_workers=False`` (workers are re-seeded at each epoch by mmengine) makes the resume
    exact. In ``IterBasedTrainLoop`` mmengine replays the data of the trained iterations on resume, which
    re-creates the workers' states; with ``num_workers=0`` that replay draws from the main process's
    generators, so the augmentations of the first batch after resuming differ (the model's own randomness does
    not).

    Config: ``custom_hooks = [dict(type='RandomStateHook')]``; exact resume further needs
    ``randomness=dict(seed=<int>, deterministic=True)`` (CUDA kernels).
    """
    priority = 'VERY_HIGH'  # applies the state before any other hook of the epoch/iteration draws from it

    def __init__(self) -> None:
        self._pending: Optional[dict] = None  # generator states to apply at the next epoch/iteration start
        self._snapshot: Optional[dict] = None
        self._snapshot_iter = -1

    # --- saving -----------------------------------------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._snapshot is None or self._snapshot_iter != runner.iter:
            self._snapshot = dict(generators=capture_rng_state(), **self._loader_seeds(runner))
            self._snapshot_iter = runner.iter
        checkpoint[KEY] = self._snapshot
        self._pending = self._snapshot['generators']

    # --- resuming ---------------------------------------------------------------------------------------
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get(KEY)
        if not getattr(runner, '_resume', False) and not runner.cfg.get('resume', False):
            return  # load_from: new run, only the weights are taken
        if state is None:
            runner.logger.warning('RandomStateHook: the checkpoint has no saved random state (written '
                                  'without '
                                  'this hook); the resumed run continues with freshly seeded generators.')
            return
        self._set_loader_seeds(runner, state)
        self._pending = state['generators']
        self._snapshot, self._snapshot_iter = state, runner.iter

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        epoch_based = not isinstance(runner.train_loop, IterBasedTrainLoop)
        if epoch_based and getattr(loader, 'persistent_workers', False) and loader.num_workers > 0:
            runner.logger.warning(
                'RandomStateHook: train_dataloader.persistent_workers=True keeps the augmentations\' random '
                'state inside the worker processes, where it cannot be saved: a resumed run will not equal '
                'the '
                'uninterrupted one. Set train_dataloader.persistent_workers=False for an exact resume.')

    def before_train_epoch(self, runner) -> None:
        if not isinstance(runner.train_loop, IterBasedTrainLoop):
            self._apply()

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if isinstance(runner.train_loop, IterBasedTrainLoop):
            self._apply()

    def _apply(self) -> None:
        if self._pending is not None:
            restore_rng_state(self._pending)
            self._pending = None

    # --- the seeds held by the train dataloader ---------------------------------------------------------
    @staticmethod
    def _sampler(loader):
        """The seeded sampler: ``loader.sampler``, or the one inside a batch sampler (mmdet's
        ``AspectRatioBatchSampler``: the DataLoader's own ``sampler`` is then torch's sequential one)."""
        batch_sampler = getattr(loader, 'batch_sampler', None)
        for s in (getattr(loader, 'sampler', None), getattr(batch_sampler, 'sampler', None)):
            if hasattr(s, 'seed'):
                return s
        return None

    def _loader_seeds(self, runner) -> dict:
        loader = runner.train_dataloader
        sampler = self._sampler(loader)
        init = getattr(loader, 'worker_init_fn', None)
        return dict(sampler_seed=getattr(sampler, 'seed', None),
                    worker_seed=init.keywords.get('seed') if isinstance(init, partial) else None)

    def _set_loader_seeds(self, runner, state: dict) -> None:
        loader = runner.train_dataloader
        sampler = self._sampler(loader)
        if state.get('sampler_seed') is not None and sampler is not None:
            sampler.seed = state['sampler_seed']
        init = getattr(loader, 'worker_init_fn', None)
        if state.get('worker_seed') is not None and isinstance(init, partial) and 'seed' in init.keywords:
            keywords = dict(init.keywords, seed=state['worker_seed'])
            loader.worker_init_fn = partial(init.func, *init.args, **keywords)
