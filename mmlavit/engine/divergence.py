"""Stop a diverging run at its first non-finite loss, before a checkpoint of that state is written."""
import math
from typing import Dict, List, Mapping, Optional

import torch
from mmengine.hooks import Hook
from mmengine.runner import BaseLoop, IterBasedTrainLoop

from mmlavit.registry import register


class DivergenceError(RuntimeError):
    """Training produced a non-finite loss (or non-finite weights about to be checkpointed)."""


def nonfinite_terms(log_vars: Optional[Mapping]) -> Dict[str, float]:
    """The entries of a loss/log-vars dict whose value is not finite (NaN or ±inf).

    Args:
        log_vars (Mapping | None): name -> scalar (tensor, number or list of tensors), as returned by
            ``BaseModel.train_step``. Non-numeric entries are ignored.

    Returns:
        dict: name -> the offending value (the first non-finite element of a tensor), in the dict's order.
    """
    bad = {}
    for name, value in (log_vars or {}).items():
        if isinstance(value, (list, tuple)) and all(isinstance(v, torch.Tensor) for v in value):
            value = torch.stack([v.detach().float().mean() for v in value]).sum() if value else None
        if isinstance(value, torch.Tensor):
            if value.numel() == 0 or not (value.is_floating_point() or value.is_complex()):
                continue
            v = value.detach()
            finite = torch.isfinite(v)
            if not bool(finite.all()):
                bad[name] = float(v[~finite].flatten()[0])
        elif isinstance(value, float) and not math.isfinite(value):
            bad[name] = value
    return bad


def nonfinite_weights(state_dict: Mapping[str, torch.Tensor], limit: int = 5) -> List[str]:
    """Names (at most ``limit``) of floating-point tensors in ``state_dict`` holding NaN or inf."""
    names = []
    for name, t in state_dict.items():
        if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all()):
            names.append(name)
            if len(names) >= limit:
                break
    return names


def _any_rank(flag: bool) -> bool:
    """True on every rank if ``flag`` is True on any rank (a no-op outside distributed training)."""
    from mmengine.dist import all_reduce, get_world_size
    if get_world_size() == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    all_reduce(t, op='max')  # mmengine moves the tensor to the backend's device and back
    return bool(t.item() > 0)


def _kept(runner) -> str:
    """What survives: the last checkpoint written (mmengine's ``last_ckpt``), or that there is none yet."""
    last = runner.message_hub.get_info('last_ckpt')
    return (f'the last good checkpoint, {last}, is kept' if last
            else f'no checkpoint had been written to {runner.work_dir} yet')


def _position(runner) -> str:
    """'iteration 7 (epoch 2, iteration 3 of 4)' — 1-based as in the training log."""
    where = f'iteration {runner.iter + 1}'
    loop = runner.train_loop
    if not isinstance(loop, IterBasedTrainLoop):
        try:
            per_epoch = len(loop.dataloader)
        except TypeError:  # an infinite loader has no length
            per_epoch = None
        inner = runner.iter - runner.epoch * per_epoch + 1 if per_epoch else None
        where += f' (epoch {runner.epoch + 1}' + (f', iteration {inner} of {per_epoch})' if inner else ')')
    return where


@register('hook')
class DivergenceGuardHook(Hook):
    """Stop training at the first non-finite loss, before any checkpoint of that state is written.

    mmdet's ``CheckInvalidLossHook`` checks only the total ``loss``, every 50 iterations by default, and stops
    with a bare ``AssertionError``: a NaN iteration between two checks can still be checkpointed. This hook
    (mmdet is not needed) checks every ``interval`` iterations (default: every one) all terms of the
    ``outputs`` log-vars dict of ``after_train_iter`` — the total ``loss`` and each ``loss_*`` term — and
    raises :class:`DivergenceError` naming the iteration, the epoch and the non-finite terms with their
    values.

    Why the last good checkpoint survives: the hook's priority (``LOW``, 70) runs it after the logger
    (``BELOW_NORMAL``, so the NaN line is still logged) and before ``CheckpointHook`` (``VERY_LOW``), whose
    ``after_train_iter`` (iteration-based saving) or ``after_train_epoch`` (epoch-based) is then never
    reached — and with it neither the new file nor the deletion of the oldest one by ``max_keep_ckpts`` (which
    mmengine does *before* writing the new file). With ``check_weights``, the weights are also checked just
    before each save of a ``CheckpointHook`` (end of epoch / saving iteration, and after validation for
    ``save_best``), which catches an update that overflowed while its loss was still finite; as a last line
    ``before_save_checkpoint`` refuses non-finite weights for any other caller of ``Runner.save_checkpoint``.
    Under distributed training the per-iteration flag is reduced over the ranks (one scalar ``all_reduce``),
    so every rank stops at the same iteration; the weights are the same on every rank.

    Args:
        interval (int): Check every ``interval`` training iterations. Defaults to 1.
        check_weights (bool): Also refuse to write a checkpoint whose weights are non-finite. Defaults to
            True.
    """
    priority = 'LOW'

    def __init__(self, interval: int = 1, check_weights: bool = True) -> None:
        if interval < 1:
            raise ValueError(f'DivergenceGuardHook: interval must be >= 1, got {interval}')
        self.interval = interval
        self.check_weights = check_weights

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not self.every_n_train_iters(runner, self.interval):
            return
        bad = nonfinite_terms(outputs if isinstance(outputs, Mapping) else None)
        if _any_rank(bool(bad)):
            terms = ', '.join(f'{k}={v}' for k, v in bad.items()) or 'on another rank'
            finite = ', '.join(f'{k}={float(v):.4g}' for k, v in (outputs or {}).items()
                               if k not in bad and isinstance(v, (float, torch.Tensor))
                               and getattr(v, 'numel', lambda: 1)() == 1)
            msg = (f'Training diverged at {_position(runner)}: non-finite loss terms: {terms}'
                   + (f' (finite: {finite})' if finite else '') + '. Stopped before saving a checkpoint of '
                   f'this state; {_kept(runner)}. Lower the learning rate (optim_wrapper.optimizer.lr), '
                   'add gradient clipping (optim_wrapper.clip_grad) or a warm-up, and resume from that '
                   'checkpoint with --resume <checkpoint>.')
            runner.logger.error(msg)
            raise DivergenceError(msg)
        if self.check_weights and _saves_now(runner, by_epoch=False):
            self._check_weights(runner, runner.model.state_dict())

    def after_train_epoch(self, runner) -> None:
        if self.check_weights and _saves_now(runner, by_epoch=True):
            self._check_weights(runner, runner.model.state_dict())

    def after_val_epoch(self, runner, metrics=None) -> None:  # before CheckpointHook's save_best
        if self.check_weights and isinstance(getattr(runner, '_train_loop', None), BaseLoop):  # training
            self._check_weights(runner, runner.model.state_dict())

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # last line, for other savers; CheckpointHook may have removed an old file (max_keep_ckpts) by now
        if self.check_weights:
            self._check_weights(runner, checkpoint.get('state_dict', {}))

    def _check_weights(self, runner, state_dict) -> None:
        names = nonfinite_weights(state_dict)
        if names:
            msg = (f'Training diverged by {_position(runner)}: the weights are non-finite '
                   f'({", ".join(names)}), '
                   'although the losses logged so far were finite. Stopped before saving a checkpoint of '
                   'this '
                   f'state; {_kept(runner)}. Lower the learning rate or clip gradients '
                   '(optim_wrapper.clip_grad) and resume from it.')
            runner.logger.error(msg)
            raise DivergenceError(msg)


def _saves_now(runner, by_epoch: bool) -> bool:
    """Whether a ``CheckpointHook`` of the runner is about to save after this epoch/iteration (same tests as
    its ``after_train_epoch`` / ``after_train_iter``)."""
    from mmengine.hooks import CheckpointHook
    for hook in runner.hooks:
        if not isinstance(hook, CheckpointHook) or hook.by_epoch != by_epoch:
            continue
        if by_epoch and (hook.every_n_epochs(runner, hook.interval, hook.save_begin)
                         or (hook.save_last and hook.is_last_train_epoch(runner))):
            return True
        if not by_epoch and (hook.every_n_train_iters(runner, hook.interval, hook.save_begin)
                             or (hook.save_last and hook.is_last_train_iter(runner))):
            return True
    return False
