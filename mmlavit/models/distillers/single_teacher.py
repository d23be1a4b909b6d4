"""A teacher -> student distiller that wraps any mmpretrain / mmdet / mmseg model, as the config's ``model``.

A distillation config is a thin config over the student's own config (``configs/distill/README.md``)::

    _base_ = 'mmpretrain::resnet/resnet18_8xb32_in1k.py'          # the student, unchanged
    custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
    model = dict(
        _delete_=True, type='SingleTeacherDistiller',
        student={{_base_.model}},
        teacher=dict(config='mmpretrain::resnet/resnet34_8xb32_in1k.py', checkpoint='resnet34.pth'),
        recorders=dict(logits=dict(type='ModuleOutputs', source='head.fc')),   # on both models
        losses=dict(loss_kd=dict(type='KDLoss', temperature=1.0, loss_weight=0.5)),
        loss_inputs=dict(loss_kd=dict(student='logits', teacher='logits')),
        student_loss_weight=0.5)

Every entry point builds it the same way: mmlavit's ``tools/train.py``, the upstream packages' own
``tools/train.py``, ``mim train`` and ``Runner.from_cfg(cfg)``.
"""
import contextlib
from typing import Dict, Optional, Union

import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.registry import MODELS

from mmlavit.registry import register

from .loss_inputs import LossInputs
from .recorders import RecorderManager
from .teacher import TeacherInputMap, build_teacher


@register('model')
class SingleTeacherDistiller(BaseModel):
    """Student + frozen teacher + recorders + distillation losses.

    Args:
        student (dict | nn.Module): the student model config (``{{_base_.model}}``) or module.
        teacher (dict): ``dict(config=<path or pkg::path>, checkpoint=<path>, cfg_options=None, strict=True)``
            or ``dict(model=<model cfg>, checkpoint=<path>, scope=None, strict=True)``. A checkpoint that does
            not fit the teacher (missing keys, shape mismatches) raises unless ``strict=False``.
        losses (dict): ``{name: loss cfg}`` — e.g. ``KDLoss``, ``DKDLoss``, ``CLKDLoss``, ``TRGLoss``.
        recorders (dict, optional): ``{name: dict(type='ModuleOutputs'|'ModuleInputs', source=<module
            name>)}`` attached to both models. Defaults to None.
        student_recorders (dict, optional): student-only recorders, overriding ``recorders``.
            Defaults to None.
        teacher_recorders (dict, optional): teacher-only recorders, overriding ``recorders``.
            Defaults to None.
        loss_inputs (dict, optional): ``{loss name: {arg: spec}}``, see
            :mod:`~mmlavit.models.distillers.loss_inputs`: recorder, call, item, ``levels`` (several levels
            of a neck's tuple output for one loss), ``connector`` (e.g. ``dict(type='ChannelAdapter',
            in_channels=256, out_channels=320)``, ``dict(type='SpatialResize', mode='bilinear')``), layout.
            Defaults to None (logits to logits).
        student_loss_weight (float): multiplies the student's own losses (the "CE weight" of KD recipes).
            Defaults to 1.0.
        save_teacher (bool): keep the teacher's weights in saved checkpoints. Defaults to False.
        teacher_mode (str): the mode the teacher runs in to fill its recorders. Defaults to ``'tensor'``.
        auto_progress (bool): read the training progress ``iter / max_iters`` for scheduled losses (warm-ups,
            TRG's temperature) from mmengine's ``MessageHub`` (its ``RuntimeInfoHook`` runs in every Runner),
            so no hook of ours is needed; False: only :meth:`set_progress` sets it. Defaults to True.
        allow_random_teacher (bool): accept ``teacher.checkpoint=None`` (tests only). Defaults to False.
        data_preprocessor (dict, optional): given by mmengine's Runner from the config's top level; passed to
            the student when its own config has none. Defaults to None.
        init_cfg (dict, optional): Defaults to None.

    The teacher is built from its own config in its own ``default_scope``, loaded from its checkpoint, frozen
    and kept in eval mode; ``init_weights`` leaves it alone; it is left out of saved checkpoints unless
    ``save_teacher=True`` (``tools/model_converters/distill_to_student.py`` exports the plain student).
    It sees the student's preprocessed batch, mapped to its own normalisation when that differs
    (:class:`~mmlavit.models.distillers.teacher.TeacherInputMap`). Connectors named in ``loss_inputs``
    (:mod:`~mmlavit.models.distillers.connectors`) are ``connectors.<loss>.<arg>``: trained with the student
    by the same optimizer, saved in checkpoints, dropped by the export. Shapes are never changed silently:
    a loss that compares maps element by element refuses a channel or size mismatch (its ``check_inputs``),
    naming the recorders, both shapes and the connector to add. Recorders record only inside the loss
    computation; ``predict`` and ``tensor`` forwards are the student's and keep nothing. Distillation losses
    are logged as ``distill.<name>`` and summed into ``loss``; a student loss named ``loss`` (mmpretrain's
    heads) is logged as ``loss_student``, so that the logged ``loss`` is the total.
    """

    def __init__(self, student: Union[dict, nn.Module], teacher: dict, losses: Dict[str, dict],
                 recorders: Optional[dict] = None, student_recorders: Optional[dict] = None,
                 teacher_recorders: Optional[dict] = None, loss_inputs: Optional[dict] = None,
                 student_loss_weight: float = 1.0, save_teacher: bool = False, teacher_mode: str = 'tensor',
                 auto_progress: bool = True, allow_random_teacher: bool = False,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if isinstance(student, dict):
            student = dict(student)
            if data_preprocessor is not None:  # mmengine's Runner merges the config's top-level one here
                student.setdefault('data_preprocessor', data_preprocessor)
            student = MODELS.build(student)
        self.student = student
        self.data_preprocessor = self.student.data_preprocessor
        self.teacher = build_teacher(teacher, allow_random_teacher)
        self.teacher_inputs = TeacherInputMap(self.data_preprocessor,
                                              getattr(self.teacher, 'data_preprocessor', None))
        self.save_teacher, self.teacher_mode = save_teacher, teacher_mode
        self.student_loss_weight, self.auto_progress = student_loss_weight, auto_progress
        if not losses:
            raise ValueError('the distiller needs at least one loss in `losses`, e.g. '
                             "dict(loss_kd=dict(type='KDLoss', temperature=4.0))")
        self.distill_losses = nn.ModuleDict({k: MODELS.build(v) if isinstance(v, dict) else v
                                             for k, v in losses.items()})
        shared = dict(recorders or {})
        self.student_recorders = RecorderManager(self.student, {**shared, **(student_recorders or {})},
                                                 'student')
        self.teacher_recorders = RecorderManager(self.teacher, {**shared, **(teacher_recorders or {})},
                                                 'teacher')
        self.loss_inputs = LossInputs(self.distill_losses, loss_inputs, self.student_recorders,
                                      self.teacher_recorders)
        self.connectors = self.loss_inputs.connectors  # a submodule: in the state dict and the optimizer

    def init_weights(self):
        """Initialise the student only: the teacher keeps its checkpoint's weights, the loss modules (TRG's
        projector) and connectors their construction-time initialisation."""
        if hasattr(self.student, 'init_weights'):
            self.student.init_weights()

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()
        return self

    def state_dict(self, *args, **kwargs):
        sd = super().state_dict(*args, **kwargs)
        if not self.save_teacher:
            prefix = kwargs.get('prefix', args[1] if len(args) > 1 else '')
            for k in [k for k in sd if k.startswith(prefix + 'teacher.')]:
                del sd[k]
        return sd

    def set_progress(self, p: float) -> None:
        """Training progress in [0, 1], passed to losses with a schedule (warm-ups, TRG's temperature)."""
        for loss in self.distill_losses.values():
            if hasattr(loss, 'set_progress'):
                loss.set_progress(p)

    def _progress_from_message_hub(self) -> None:
        hub = MessageHub.get_current_instance()
        it, total = hub.get_info('iter'), hub.get_info('max_iters')
        if it is not None and total:
            self.set_progress(it / total)

    @contextlib.contextmanager
    def recording(self):
        """Both models' recorders on inside the block, off and emptied after it."""
        with self.student_recorders.recording(), self.teacher_recorders.recording():
            yield

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        return self.student(inputs, data_samples, mode=mode)

    def _check_inputs(self, name: str, fn: nn.Module, kwargs: dict) -> None:
        """The loss's own input check, when it has one: ``fn.check_inputs(kwargs, key, where)`` raises with
        ``key`` (``model.losses.<name>``, where its settings live) and ``where`` (``key`` and the recorders
        it reads), so the error names the setting to change. The distiller knows no loss's internals."""
        check = getattr(fn, 'check_inputs', None)
        if check is None:
            return
        key = f'model.losses.{name}'
        routes = self.loss_inputs.routes.get(name, {})
        recs = [f"{arg} <- {routes[arg]['recorder']!r}" for arg in ('student', 'teacher')
                if 'recorder' in routes.get(arg, {})]
        check(kwargs, key, key + (f' ({", ".join(recs)})' if recs else ''))

    def loss(self, inputs, data_samples) -> Dict[str, torch.Tensor]:
        if self.auto_progress and self.training:
            self._progress_from_message_hub()
        with self.recording():
            with torch.no_grad():
                self.teacher(self.teacher_inputs(inputs), data_samples, mode=self.teacher_mode)
            losses = self.student.loss(inputs, data_samples)
            if 'loss' in losses:  # mmpretrain heads return `loss`, which would hide the total in the log
                losses['loss_student'] = losses.pop('loss')
            w = self.student_loss_weight
            if w != 1.0:
                losses = {k: (([x * w for x in v] if isinstance(v, (list, tuple)) else v * w)
                              if 'loss' in k else v) for k, v in losses.items()}
            for name, fn in self.distill_losses.items():
                kwargs = self.loss_inputs.gather(name, data_samples)  # recorded -> connectors -> layout
                self._check_inputs(name, fn, kwargs)
                out = fn(**kwargs)
                if isinstance(out, dict):
                    losses.update({f'distill.{k}': v for k, v in out.items()})
                else:
                    losses[f'distill.{name}'] = out
        return losses
