"""Hooks of mmlavit."""
from typing import Dict

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmlavit.registry import register


def collect_aux_losses(model: torch.nn.Module) -> Dict[str, torch.Tensor]:
    """Pop the auxiliary losses of every submodule that has ``pop_aux_losses()`` (e.g. LaViT's DP loss);
    losses of the same name are summed."""
    out: Dict[str, torch.Tensor] = {}
    for m in model.modules():
        pop = getattr(m, 'pop_aux_losses', None)
        if m is not model and callable(pop):
            for k, v in pop().items():
                out[k] = out[k] + v if k in out else v
    return out


@register('hook')
class AuxiliaryLossHook(Hook):
    """Add the auxiliary losses of submodules to any model's loss dict — one mechanism for mmpretrain's
    ``ImageClassifier``, mmdet's detectors and mmseg's ``EncoderDecoder``, with no forked model class.

    ``BaseModel.train_step`` computes ``losses = model(..., mode='loss')`` then
    ``model.parse_losses(losses)``. Before training this hook wraps the (unwrapped) model's
    ``parse_losses`` so that the losses popped from submodules (e.g. ``loss_dp`` from
    :class:`~mmlavit.models.LaViT`) are merged in first: they are summed into ``loss``, get gradients and
    appear in the log like any head loss. Works under DDP (``MMDistributedDataParallel.train_step`` calls
    the inner module's ``parse_losses``).

    Config: ``custom_hooks = [dict(type='AuxiliaryLossHook')]``.
    """
    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        install_aux_losses(model)


def install_aux_losses(model: torch.nn.Module) -> torch.nn.Module:
    """Wrap ``model.parse_losses`` to merge the submodules' auxiliary losses (idempotent)."""
    if getattr(model.parse_losses, '_mmlavit_aux', False):
        return model
    original = model.parse_losses

    def parse_losses(losses):
        for k, v in collect_aux_losses(model).items():
            losses[k] = losses[k] + v if k in losses else v
        return original(losses)

    parse_losses._mmlavit_aux = True
    model.parse_losses = parse_losses
    return model


@register('hook')
class DistillerProgressHook(Hook):
    """Tell the model how far training is (``iter / max_iters`` in [0, 1]) before every iteration, for
    losses with a schedule (warm-ups, TRG's InfoNCE temperature).

    Optional: :class:`~mmlavit.models.SingleTeacherDistiller` reads the same value from mmengine's
    ``MessageHub`` itself (``auto_progress=True``), so stock entry points need no hook of ours. Use it with
    ``auto_progress=False``, or with a custom loop that does not run mmengine's ``RuntimeInfoHook``.
    Config: ``custom_hooks = [dict(type='DistillerProgressHook')]``."""

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if hasattr(model, 'set_progress'):
            model.set_progress(runner.iter / max(runner.max_iters, 1))


@register('hook')
class ProgressBarHook(Hook):
    """A progress bar (mmengine's ``ProgressBar``) over the samples of the val/test set on rank 0 — e.g. the
    600 meta-test episodes of the few-shot configs ("task/s" is then episodes per second).
    Config: ``custom_hooks = [dict(type='ProgressBarHook')]``."""
    priority = 'VERY_LOW'

    def _start(self, loader):
        from mmengine.dist import get_world_size, is_main_process
        from mmengine.utils import ProgressBar
        self._bar = ProgressBar(len(loader.dataset)) if is_main_process() else None
        self._world = get_world_size()

    def _step(self, data_batch):
        if getattr(self, '_bar', None) is None:
            return
        first = next(iter(data_batch.values())) if isinstance(data_batch, dict) else data_batch
        n = len(first) * self._world if isinstance(first, (list, tuple)) else 1
        self._bar.update(min(n, self._bar.task_num - self._bar.completed))

    def before_val_epoch(self, runner) -> None:
        self._start(runner.val_dataloader)

    def before_test_epoch(self, runner) -> None:
        self._start(runner.test_dataloader)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step(data_batch)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step(data_batch)
