"""A teacher -> student distiller that wraps any mmpretrain / mmdet / mmseg model.

Usage is a thin config over the student's own config (``tools/train.py`` wraps ``model`` for you, see
:func:`apply_distiller`)::

    _base_ = 'mmpretrain::resnet/resnet18_8xb32_in1k.py'          # the student, unchanged
    custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
    distiller = dict(
        teacher=dict(config='mmpretrain::resnet/resnet34_8xb32_in1k.py', checkpoint='resnet34.pth'),
        recorders=dict(logits=dict(type='ModuleOutputs', source='head.fc')),   # on both models
        losses=dict(loss_kd=dict(type='KDLoss', temperature=1.0, loss_weight=0.5)),
        loss_inputs=dict(loss_kd=dict(student='logits', teacher='logits')),
        student_loss_weight=0.5)

The teacher is built from its own config (its own ``default_scope``), loaded from its checkpoint, frozen
(no gradients) and kept in eval mode; it is left out of the saved checkpoints unless ``save_teacher=True``.
Distillation losses appear in the log as ``distill.<name>`` and are summed into ``loss``.
``tools/model_converters/distill_to_student.py`` turns a distiller checkpoint into a plain student one.
"""
import copy
import inspect
import os.path as osp
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.registry import MODELS, DefaultScope
from mmengine.runner.checkpoint import _load_checkpoint, _load_checkpoint_to_model

from mmlavit.registry import register
from .recorders import ModuleRecorder, to_logits

SPECIAL_INPUTS = ('gt_label',)


def load_teacher_config(path: str) -> Config:
    """A config path — relative to the working directory, else to mmlavit's installed root (so that
    ``configs/distill/x.py`` works from anywhere) — or a ``package::path`` one (``mmpretrain::``,
    ``mmdet::``, ``mmlavit::``...)."""
    if '::' in path:
        from mmengine.hub import get_config
        return get_config(path)
    candidates = [path]
    if not osp.isabs(path):
        import mmlavit
        pkg = osp.dirname(mmlavit.__file__)
        candidates += [osp.join(osp.dirname(pkg), path), osp.join(pkg, '.mim', path)]
    for c in candidates:
        if osp.isfile(c):
            return Config.fromfile(c)
    raise FileNotFoundError(f'teacher config "{path}" does not exist (looked in {candidates}); relative paths '
                            'are relative to the working directory or to the mmlavit checkout; use '
                            '"package::path" for a config shipped by a package')


def _build_in_scope(cfg: dict, scope: Optional[str]) -> nn.Module:
    if scope is None:
        return MODELS.build(cfg)
    with DefaultScope.overwrite_default_scope(scope):
        return MODELS.build(cfg)


def _fill_missing_from_self(module: nn.Module):
    """load_state_dict pre-hook: keys of ``module`` that a checkpoint lacks keep the current values, so a
    checkpoint saved without the teacher loads with no 'missing keys' for it."""

    def hook(state_dict, prefix, *args, **kwargs):
        for name, t in list(module._parameters.items()) + list(module._buffers.items()):
            if t is not None and name not in module._non_persistent_buffers_set:
                state_dict.setdefault(prefix + name, t.detach())
    return hook


def input_normalisation(pre: Optional[nn.Module]):
    """``(mean, std, swaps_channels)`` of an mmengine/mmpretrain/mmdet/mmseg data preprocessor: the affine map
    ``x = (swap(raw) − mean) / std`` it applies to the raw pixels; mean/std are ``None`` when it does not
    normalise. ``None`` for a model without a data preprocessor."""
    if pre is None:
        return None
    mean, std = getattr(pre, 'mean', None), getattr(pre, 'std', None)
    if not (torch.is_tensor(mean) and torch.is_tensor(std)) or not getattr(pre, '_enable_normalize', True):
        mean = std = None
    else:
        mean, std = mean.detach().float().view(-1), std.detach().float().view(-1)
    swap = (getattr(pre, 'to_rgb', False) or getattr(pre, '_channel_conversion', False)  # mmpretrain, mmengine
            or getattr(pre, 'channel_conversion', False))  # mmseg
    return mean, std, bool(swap)


@register('model')
class SingleTeacherDistiller(BaseModel):
    """Student + frozen teacher + recorders + distillation losses.

    Args:
        student: the student model config (``cfg.model`` of its own config) or module.
        teacher: ``dict(config=<path or pkg::path>, checkpoint=<path>, cfg_options=None)``, or
            ``dict(model=<model cfg>, checkpoint=<path>, scope=None)``. ``checkpoint=None`` is refused
            unless ``allow_random_teacher=True`` (tests only).
        losses: ``{name: loss cfg}`` — e.g. ``KDLoss``, ``DKDLoss``, ``CLKDLoss``, ``TRGLoss``.
        recorders: ``{name: dict(type='ModuleOutputs'|'ModuleInputs', source=<module name>)}`` attached to
            both models; ``student_recorders`` / ``teacher_recorders`` override per side.
        loss_inputs: ``{loss name: {arg: spec}}``. A spec is a recorder name, or
            ``dict(recorder=, from_student=<default: arg != 'teacher'>, call=-1|'all', item=None,
            layout=None|'nc'|'nchw'|'dense', num_classes=None)``, or ``'gt_label'`` (the batch's class labels,
            mmpretrain). Default per loss: ``student='logits', teacher='logits'`` (+ ``target='gt_label'``
            when the loss takes a target, as DKD does).
        student_loss_weight: multiplies the student's own losses (the "CE weight" of KD recipes).
        save_teacher: keep the teacher's weights in saved checkpoints.
        teacher_mode: the mode the teacher runs in to fill its recorders (``'tensor'``: no post-processing).

    The teacher sees the student's preprocessed batch. When the teacher's own config normalises pixels
    differently (mean/std, BGR→RGB), the batch is mapped to the teacher's normalisation first (exact for the
    affine normalisation; padded borders keep the student's pad value mapped the same way) and the build logs it.
    """

    def __init__(self, student: Union[dict, nn.Module], teacher: dict, losses: Dict[str, dict],
                 recorders: Optional[dict] = None, student_recorders: Optional[dict] = None,
                 teacher_recorders: Optional[dict] = None, loss_inputs: Optional[dict] = None,
                 student_loss_weight: float = 1.0, save_teacher: bool = False, teacher_mode: str = 'tensor',
                 allow_random_teacher: bool = False, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if isinstance(student, dict):
            student = copy.deepcopy(student)
            if data_preprocessor is not None:  # mmengine's Runner merges the config's top-level one here
                student.setdefault('data_preprocessor', data_preprocessor)
            student = MODELS.build(student)
        self.student = student
        self.data_preprocessor = self.student.data_preprocessor
        self.teacher = self._build_teacher(dict(teacher), allow_random_teacher)
        self._input_map = self._teacher_input_map()
        self.save_teacher = save_teacher
        self.teacher_mode = teacher_mode
        self.student_loss_weight = student_loss_weight

        if not losses:
            raise ValueError('the distiller needs at least one loss in `losses`, e.g. '
                             "dict(loss_kd=dict(type='KDLoss', temperature=4.0))")
        self.distill_losses = nn.ModuleDict({k: MODELS.build(v) if isinstance(v, dict) else v
                                             for k, v in losses.items()})
        shared = dict(recorders or {})
        self.student_recorders = self._attach(self.student, {**shared, **(student_recorders or {})}, 'student')
        self.teacher_recorders = self._attach(self.teacher, {**shared, **(teacher_recorders or {})}, 'teacher')
        self.loss_inputs = {name: self._normalise_inputs(name, (loss_inputs or {}).get(name))
                            for name in self.distill_losses}

    # ------------------------------------------------------------------------------------------ build
    def _build_teacher(self, cfg: dict, allow_random: bool) -> nn.Module:
        ckpt = cfg.pop('checkpoint', None)
        if 'config' in cfg:
            tcfg = load_teacher_config(cfg.pop('config'))
            if cfg.get('cfg_options'):
                tcfg.merge_from_dict(cfg.pop('cfg_options'))
            model_cfg = copy.deepcopy(tcfg.model)
            if tcfg.get('data_preprocessor') is not None:
                model_cfg.setdefault('data_preprocessor', tcfg.data_preprocessor)
            scope = cfg.pop('scope', tcfg.get('default_scope'))
        elif 'model' in cfg:
            model_cfg, scope = copy.deepcopy(cfg.pop('model')), cfg.pop('scope', None)
        else:
            raise ValueError("teacher needs `config` (a config path) or `model` (a model config), "
                             f'got keys {sorted(cfg)}')
        if isinstance(model_cfg, (dict, ConfigDict)):
            model_cfg = dict(model_cfg)
            model_cfg.pop('init_cfg', None)  # its weights come from `checkpoint`
        teacher = _build_in_scope(model_cfg, scope)
        if ckpt is None:
            if not allow_random:
                raise ValueError('teacher.checkpoint is not set: a distiller needs a trained teacher. Set '
                                 "distiller.teacher.checkpoint='path/to/teacher.pth' (train it with the "
                                 "teacher's config first)")
        else:
            if '://' not in ckpt and not osp.isfile(ckpt):
                raise FileNotFoundError(f'teacher checkpoint "{ckpt}" does not exist; train the teacher first '
                                        "(python tools/train.py <teacher config>) or fix distiller.teacher.checkpoint")
            state = _load_checkpoint(ckpt, map_location='cpu')
            sd = state.get('state_dict', state)
            if any(k.startswith('student.') for k in sd):  # a distiller checkpoint: take its student
                sd = {k[len('student.'):]: v for k, v in sd.items() if k.startswith('student.')}
            own = set(teacher.state_dict())
            missing = sorted(own - set(sd))
            if len(missing) == len(own):
                raise KeyError(f'teacher checkpoint "{ckpt}" shares no keys with the teacher model (first model '
                               f'keys: {sorted(own)[:3]}, first checkpoint keys: {sorted(sd)[:3]})')
            _load_checkpoint_to_model(teacher, {'state_dict': sd}, strict=False)
            if missing:
                print_log(f'teacher: {len(missing)} keys not in the checkpoint, e.g. {missing[:5]}',
                          logger='current')
        for p in teacher.parameters():
            p.requires_grad_(False)
        for m in teacher.modules():
            m._register_load_state_dict_pre_hook(_fill_missing_from_self(m))
        return teacher.eval()

    def _teacher_input_map(self):
        """``None`` when the teacher normalises its inputs as the student does, else the tensors that map
        the student's normalised batch to the teacher's: ``x_t = (swap(x_s·std_s + mean_s) − mean_t) / std_t``."""
        ns = input_normalisation(self.data_preprocessor)
        nt = input_normalisation(getattr(self.teacher, 'data_preprocessor', None))
        if ns is None or nt is None:
            return None
        (ms, ss, ws), (mt, st, wt) = ns, nt
        ref = next((m for m in (ms, mt) if m is not None), torch.zeros(3))  # a side without mean/std: 0 / 1
        ms, ss = (ms, ss) if ms is not None else (torch.zeros_like(ref), torch.ones_like(ref))
        mt, st = (mt, st) if mt is not None else (torch.zeros_like(ref), torch.ones_like(ref))
        if ws == wt and ms.shape == mt.shape and torch.allclose(ms, mt) and torch.allclose(ss, st):
            return None
        if ms.shape != mt.shape:
            raise ValueError(f'the student normalises {ms.numel()} input channels, the teacher {mt.numel()}: '
                             'they cannot read the same batch')
        print_log(f'distiller: the teacher normalises inputs differently (mean {mt.tolist()}, std {st.tolist()}, '
                  f'swap channels {wt}) from the student (mean {ms.tolist()}, std {ss.tolist()}, swap {ws}); '
                  'the student\'s batch is converted to the teacher\'s normalisation', logger='current')
        return ms, ss, ws != wt, mt, st

    def teacher_inputs(self, inputs):
        """The student's preprocessed batch ``(N, C, H, W)`` in the teacher's normalisation."""
        if self._input_map is None or not torch.is_tensor(inputs) or inputs.ndim != 4:
            return inputs
        ms, ss, flip, mt, st = (t.to(inputs.device) if torch.is_tensor(t) else t for t in self._input_map)
        raw = inputs * ss.view(1, -1, 1, 1) + ms.view(1, -1, 1, 1)  # swap_s(pixels)
        if flip:
            raw = raw.flip(1)
        return (raw - mt.view(1, -1, 1, 1)) / st.view(1, -1, 1, 1)

    @staticmethod
    def _attach(model: nn.Module, specs: dict, role: str) -> Dict[str, ModuleRecorder]:
        out = {}
        for name, spec in specs.items():
            spec = dict(source=spec) if isinstance(spec, str) else dict(spec)
            if 'source' not in spec:
                raise ValueError(f'{role} recorder {name!r} needs a `source` module name')
            out[name] = ModuleRecorder(**spec).attach(model, role)
        return out

    def _normalise_inputs(self, name: str, spec: Optional[dict]) -> Dict[str, dict]:
        loss = self.distill_losses[name]
        params = inspect.signature(loss.forward).parameters
        if spec is None:
            spec = dict(student='logits', teacher='logits')
            if 'target' in params:
                spec['target'] = 'gt_label'
        out = {}
        for arg, s in spec.items():
            if arg not in params:
                raise ValueError(f'{name}: {type(loss).__name__}.forward has no argument {arg!r} '
                                 f'(it takes {[p for p in params if p != "self"]})')
            if s in SPECIAL_INPUTS:
                out[arg] = dict(special=s)
                continue
            s = dict(recorder=s) if isinstance(s, str) else dict(s)
            s.setdefault('from_student', arg != 'teacher')
            side = self.student_recorders if s['from_student'] else self.teacher_recorders
            if s['recorder'] not in side:
                role = 'student' if s['from_student'] else 'teacher'
                raise KeyError(f'{name}.{arg} reads the {role} recorder "{s["recorder"]}", but the {role} '
                               f'recorders are {", ".join(sorted(side))}; add it under distiller.recorders')
            out[arg] = s
        return out

    # ------------------------------------------------------------------------------------ behaviour
    def init_weights(self):
        """Initialise the student (and loss modules) only: the teacher keeps its checkpoint's weights."""
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
        """Training progress in [0, 1], passed to losses with a schedule (TRG's temperature)."""
        for loss in self.distill_losses.values():
            if hasattr(loss, 'set_progress'):
                loss.set_progress(p)

    # -------------------------------------------------------------------------------------- forward
    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        return self.student(inputs, data_samples, mode=mode)

    def _reset(self):
        for r in list(self.student_recorders.values()) + list(self.teacher_recorders.values()):
            r.reset()

    def _value(self, s: dict, data_samples):
        if 'special' in s:
            return torch.cat([ds.gt_label for ds in data_samples]).long()
        rec = (self.student_recorders if s['from_student'] else self.teacher_recorders)[s['recorder']]
        v = rec.get(s.get('call', -1), s.get('item'))
        if s.get('layout'):
            v = to_logits(v, s['layout'], s.get('num_classes'))
        return v

    def loss(self, inputs, data_samples) -> Dict[str, torch.Tensor]:
        self._reset()
        with torch.no_grad():
            self.teacher(self.teacher_inputs(inputs), data_samples, mode=self.teacher_mode)
        losses = self.student.loss(inputs, data_samples)
        if self.student_loss_weight != 1.0:
            w = self.student_loss_weight
            losses = {k: ([x * w for x in v] if isinstance(v, (list, tuple)) else v * w) if 'loss' in k else v
                      for k, v in losses.items()}
        for name, fn in self.distill_losses.items():
            kwargs = {}
            for arg, s in self.loss_inputs[name].items():
                kwargs[arg] = self._value(s, data_samples)
            st, te = kwargs.get('student'), kwargs.get('teacher')
            if (torch.is_tensor(st) and torch.is_tensor(te) and st.ndim == te.ndim == 4
                    and st.shape[1] == te.shape[1] and st.shape[2:] != te.shape[2:]):
                kwargs['teacher'] = F.interpolate(te, size=st.shape[2:], mode='bilinear', align_corners=False)
            out = fn(**kwargs)
            if isinstance(out, dict):
                losses.update({f'distill.{k}': v for k, v in out.items()})
            else:
                losses[f'distill.{name}'] = out
        self._reset()
        return losses


def apply_distiller(cfg: Config) -> Config:
    """Turn a config with a ``distiller`` block into one whose ``model`` is a
    :class:`SingleTeacherDistiller` wrapping the config's own ``model`` (the student); add
    :class:`~mmlavit.engine.DistillerProgressHook`. Configs without a ``distiller`` block are returned as is.
    ``tools/train.py`` and ``tools/test.py`` call this; call it yourself before ``Runner.from_cfg(cfg)``."""
    block = cfg.get('distiller')
    if not block:
        return cfg
    if cfg.model.get('type') in ('SingleTeacherDistiller', 'mmlavit.SingleTeacherDistiller'):
        raise ValueError('the config has both a `distiller` block and model.type=SingleTeacherDistiller; '
                         'keep one of them')
    cfg.model = ConfigDict(type='SingleTeacherDistiller', student=cfg.model, **block)
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(str(h.get('type', '')).endswith('DistillerProgressHook') for h in hooks):
        hooks.append(dict(type='mmlavit.DistillerProgressHook'))
    cfg.custom_hooks = hooks
    cfg.pop('distiller')
    return cfg


def student_state_dict(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The plain student's state dict from a distiller's (teacher and loss modules dropped)."""
    out = {k[len('student.'):]: v for k, v in state_dict.items() if k.startswith('student.')}
    if not out:
        raise KeyError('no "student." keys: this is not a SingleTeacherDistiller checkpoint')
    return out


__all__: List[str] = ['SingleTeacherDistiller', 'apply_distiller', 'student_state_dict', 'load_teacher_config']
