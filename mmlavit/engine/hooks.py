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
    losses with a schedule (TRG's InfoNCE temperature). Added by :func:`mmlavit.models.apply_distiller`."""

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if hasattr(model, 'set_progress'):
            model.set_progress(runner.iter / max(runner.max_iters, 1))


@register('hook')
class ProgressBarHook(Hook):
    """A progress bar (mmengine's ``ProgressBar``) over the val/test iterations on rank 0 — e.g. the 600
    meta-test episodes of the few-shot configs. Config: ``custom_hooks = [dict(type='ProgressBarHook')]``."""
    priority = 'VERY_LOW'

    def _start(self, runner, loader):
        from mmengine.dist import is_main_process
        from mmengine.utils import ProgressBar
        self._bar = ProgressBar(len(loader)) if is_main_process() else None

    def _step(self):
        if getattr(self, '_bar', None) is not None:
            self._bar.update()

    def before_val_epoch(self, runner) -> None:
        self._start(runner, runner.val_dataloader)

    def before_test_epoch(self, runner) -> None:
        self._start(runner, runner.test_dataloader)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step()

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step()
