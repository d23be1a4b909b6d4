"""Building, loading and freezing the teacher, and handing it the student's batch in its own normalisation."""
import copy
import os.path as osp
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.registry import MODELS, DefaultScope
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from mmlavit.utils.checkpoint import checkpoint_state_dict, state_dict_fit


def load_teacher_config(path: str) -> Config:
    """A config path — relative to the working directory, else to mmlavit's installed root (so that
    ``configs/distill/baselines/x.py`` works from anywhere) — or a ``package::path`` one (``mmpretrain::``,
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
    raise FileNotFoundError(f'teacher config "{path}" does not exist (looked in {candidates}); relative '
                            'paths are relative to the working directory or to the mmlavit checkout; use '
                            '"package::path" for a config shipped by a package')


def _fill_missing_from_self(module: nn.Module):
    """load_state_dict pre-hook: keys of ``module`` that a checkpoint lacks keep the current values, so a
    distiller checkpoint saved without the teacher loads with no 'missing keys' for it."""

    def hook(state_dict, prefix, *args, **kwargs):
        for name, t in list(module._parameters.items()) + list(module._buffers.items()):
            if t is not None and name not in module._non_persistent_buffers_set:
                state_dict.setdefault(prefix + name, t.detach())
    return hook


def _teacher_model_cfg(cfg: dict) -> Tuple[dict, Optional[str], str]:
    """``(model cfg, scope, description)`` from the distiller's ``teacher`` dict."""
    if 'config' in cfg:
        tcfg = load_teacher_config(cfg['config'])
        if cfg.get('cfg_options'):
            tcfg.merge_from_dict(cfg['cfg_options'])
        model_cfg = copy.deepcopy(tcfg.model)
        if tcfg.get('data_preprocessor') is not None:
            model_cfg.setdefault('data_preprocessor', tcfg.data_preprocessor)
        return model_cfg, cfg.get('scope', tcfg.get('default_scope')), f'teacher config "{cfg["config"]}"'
    if 'model' in cfg:
        return copy.deepcopy(cfg['model']), cfg.get('scope'), 'the teacher model config (teacher.model)'
    raise ValueError("model.teacher needs `config` (a config path) or `model` (a model config), "
                     f'got keys {sorted(cfg)}')


def load_teacher_checkpoint(teacher: nn.Module, ckpt: str, source: str, strict: bool = True) -> None:
    """Load ``ckpt`` into ``teacher``. A distiller checkpoint gives its student. Missing keys or shape
    mismatches raise (``strict=True``: the teacher would be partly random) or warn (``strict=False``, as
    mmengine does); unexpected keys warn. Messages name the keys, ``source`` (the config) and ``ckpt``."""
    if '://' not in ckpt and not osp.isfile(ckpt):
        raise FileNotFoundError(f'teacher checkpoint "{ckpt}" does not exist; train the teacher first '
                                f'(python tools/train.py <{source}>) or fix model.teacher.checkpoint')
    sd = checkpoint_state_dict(ckpt)
    if any(k.startswith('student.') for k in sd):  # a distiller checkpoint: take its student
        sd = {k[len('student.'):]: v for k, v in sd.items() if k.startswith('student.')}
    own = teacher.state_dict()
    missing, unexpected, bad, _ = state_dict_fit(own, sd)
    shapes = [f'{k} {tuple(sd[k].shape)} vs {tuple(own[k].shape)}' for k in bad]
    where = f'teacher checkpoint "{ckpt}" does not fit {source}'
    if own and len(missing) == len(own):
        raise KeyError(f'{where}: they share no keys (first model keys: {sorted(own)[:3]}, first checkpoint '
                       f'keys: {sorted(sd)[:3]})')
    problems = [f'{len(missing)} model keys missing from the checkpoint, e.g. {missing[:5]}'] * bool(missing)
    problems += [f'{len(shapes)} shape mismatches (checkpoint vs model): {shapes[:5]}'] * bool(shapes)
    if problems and strict:
        raise KeyError(f'{where}: ' + '; '.join(problems) + '. Fix the teacher config (or its cfg_options) '
                       'or the checkpoint; model.teacher.strict=False loads what fits and warns instead')
    for msg in problems + ([f'{len(unexpected)} checkpoint keys not in the model, e.g. {unexpected[:5]}']
                           if unexpected else []):
        print_log(f'{where}: {msg}', logger='current', level=30)
    _load_checkpoint_to_model(teacher, {'state_dict': {k: v for k, v in sd.items() if k not in bad}},
                              strict=False)


def build_teacher(cfg: dict, allow_random: bool = False) -> nn.Module:
    """Build the teacher from ``cfg`` (the distiller's ``teacher`` dict: ``config`` + ``cfg_options`` or
    ``model`` + ``scope``; ``checkpoint``; ``strict``) in its own scope, load its checkpoint, freeze it and
    put it in eval mode. ``checkpoint=None`` is refused unless ``allow_random`` (tests only)."""
    cfg = dict(cfg)
    model_cfg, scope, source = _teacher_model_cfg(cfg)
    if isinstance(model_cfg, (dict, ConfigDict)):
        model_cfg = dict(model_cfg)
        model_cfg.pop('init_cfg', None)  # its weights come from `checkpoint`
    with DefaultScope.overwrite_default_scope(scope):
        teacher = MODELS.build(model_cfg)
    ckpt = cfg.get('checkpoint')
    if ckpt is not None:
        load_teacher_checkpoint(teacher, ckpt, source, cfg.get('strict', True))
    elif not allow_random:
        raise ValueError('model.teacher.checkpoint is not set: a distiller needs a trained teacher. Set '
                         "model.teacher.checkpoint='path/to/teacher.pth' (train it with the teacher's "
                         'config first)')
    for p in teacher.parameters():
        p.requires_grad_(False)
    for m in teacher.modules():
        m._register_load_state_dict_pre_hook(_fill_missing_from_self(m))
    return teacher.eval()


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
    swap = (getattr(pre, 'to_rgb', False)  # mmpretrain
            or getattr(pre, '_channel_conversion', False)  # mmengine, mmdet
            or getattr(pre, 'channel_conversion', False))  # mmseg
    return mean, std, bool(swap)


class TeacherInputMap:
    """Maps the student's normalised batch ``(N, C, H, W)`` to the teacher's normalisation:
    ``x_t = (swap(x_s·std_s + mean_s) − mean_t) / std_t`` — exact for the affine normalisation; padded
    borders keep the student's pad value mapped the same way. The identity when both normalise alike.

    Args:
        student_pre (nn.Module, optional): the student's data preprocessor.
        teacher_pre (nn.Module, optional): the teacher's data preprocessor.
    """

    def __init__(self, student_pre: Optional[nn.Module], teacher_pre: Optional[nn.Module]):
        self.map = None
        ns, nt = input_normalisation(student_pre), input_normalisation(teacher_pre)
        if ns is None or nt is None:
            return
        (ms, ss, ws), (mt, st, wt) = ns, nt
        ref = next((m for m in (ms, mt) if m is not None), torch.zeros(3))  # a side without mean/std: 0 / 1
        ms, ss = (ms, ss) if ms is not None else (torch.zeros_like(ref), torch.ones_like(ref))
        mt, st = (mt, st) if mt is not None else (torch.zeros_like(ref), torch.ones_like(ref))
        if ws == wt and ms.shape == mt.shape and torch.allclose(ms, mt) and torch.allclose(ss, st):
            return
        if ms.shape != mt.shape:
            raise ValueError(f'the student normalises {ms.numel()} input channels, the teacher {mt.numel()}: '
                             'they cannot read the same batch')
        print_log(f'distiller: the teacher normalises inputs differently (mean {mt.tolist()}, '
                  f'std {st.tolist()}, swap channels {wt}) from the student (mean {ms.tolist()}, '
                  f'std {ss.tolist()}, swap {ws}); the student\'s batch is converted to the teacher\'s '
                  'normalisation', logger='current')
        self.map = (ms, ss, ws != wt, mt, st)

    def __call__(self, inputs):
        if self.map is None or not torch.is_tensor(inputs) or inputs.ndim != 4:
            return inputs
        ms, ss, flip, mt, st = (t.to(inputs.device) if torch.is_tensor(t) else t for t in self.map)
        raw = inputs * ss.view(1, -1, 1, 1) + ms.view(1, -1, 1, 1)  # swap_s(pixels)
        if flip:
            raw = raw.flip(1)
        return (raw - mt.view(1, -1, 1, 1)) / st.view(1, -1, 1, 1)
