"""Recorders (mmrazor style): forward hooks that keep what a named submodule received or returned.

A recorder is attached to one model (student or teacher) by module name (``model.named_modules()``), so the
same recorder spec works for any mmpretrain / mmdet / mmseg model. Recorders keep nothing unless they
are inside :meth:`RecorderManager.recording` (the distiller opens it around its loss computation only), so
a ``predict`` / ``tensor`` forward — validation, testing, inference — records nothing. Inside it, every call
of the module is kept (a dense detection head's ``retina_cls`` runs once per FPN level), then
:meth:`ModuleRecorder.get` picks or concatenates them.
"""
import contextlib
import difflib
from typing import Any, Dict, Iterator, List, Optional, Union

import torch
import torch.nn as nn


class ModuleRecorder:
    """Record the outputs (``type='ModuleOutputs'``) or the first positional input (``'ModuleInputs'``) of
    the submodule ``source`` on every call while recording is on.

    Args:
        source (str): the submodule's name in ``model.named_modules()`` (e.g. ``'head.fc'``).
        type (str): ``'ModuleOutputs'`` or ``'ModuleInputs'``. Defaults to ``'ModuleOutputs'``.
    """

    TYPES = ('ModuleOutputs', 'ModuleInputs')

    def __init__(self, source: str, type: str = 'ModuleOutputs'):  # noqa: A002  (config key)
        if type not in self.TYPES:
            raise ValueError(f'recorder type must be one of {self.TYPES}, got {type!r}')
        self.source, self.type = source, type
        self.data: List[Any] = []
        self.active = False
        self._handle = None

    def attach(self, model: nn.Module, role: str) -> 'ModuleRecorder':
        modules = dict(model.named_modules())
        if self.source not in modules:
            close = difflib.get_close_matches(self.source, list(modules), n=5, cutoff=0.4)
            raise KeyError(f'the {role} has no submodule named "{self.source}"'
                           + (f'; close names: {", ".join(close)}' if close else '')
                           + f'. Module names are those of {role}.named_modules() (e.g. head.fc, backbone).')
        self._handle = modules[self.source].register_forward_hook(self._hook)
        return self

    def _hook(self, module, inputs, output):
        if self.active:
            self.data.append(output if self.type == 'ModuleOutputs' else inputs[0])

    def reset(self) -> None:
        self.data = []

    def get(self, call: Union[int, str] = -1, item: Optional[int] = None) -> Any:
        """The recorded value of call ``call`` (``'all'``: a list of every call), indexed by ``item`` when
        the module returns a tuple/list (e.g. a backbone's stages)."""
        if not self.data:
            raise RuntimeError(f'nothing was recorded from {self.source!r}: the module did not run while '
                               'recording (check the module name and that the model calls it in this mode)')
        pick = (lambda v: v) if item is None else (lambda v: v[item])  # noqa: E731
        if call == 'all':
            return [pick(v) for v in self.data]
        return pick(self.data[call])


class RecorderManager:
    """The recorders of one model, by name.

    Args:
        model (nn.Module): the model the recorders hook into.
        specs (dict): ``{name: dict(type=..., source=...)}`` or ``{name: '<module name>'}``.
        role (str): ``'student'`` or ``'teacher'``, for error messages.
    """

    def __init__(self, model: nn.Module, specs: Dict[str, Union[str, dict]], role: str):
        self.role = role
        self.recorders: Dict[str, ModuleRecorder] = {}
        for name, spec in specs.items():
            spec = dict(source=spec) if isinstance(spec, str) else dict(spec)
            if 'source' not in spec:
                raise ValueError(f'{role} recorder {name!r} needs a `source` module name')
            self.recorders[name] = ModuleRecorder(**spec).attach(model, role)

    def __getitem__(self, name: str) -> ModuleRecorder:
        return self.recorders[name]

    def __contains__(self, name: str) -> bool:
        return name in self.recorders

    def __iter__(self):
        return iter(self.recorders)

    def stored(self) -> int:
        """How many values the recorders hold now (0 outside :meth:`recording`)."""
        return sum(len(r.data) for r in self.recorders.values())

    @contextlib.contextmanager
    def recording(self) -> Iterator['RecorderManager']:
        """Record inside the block; on leaving it (also on an error) stop and drop what was recorded."""
        for r in self.recorders.values():
            r.reset()
            r.active = True
        try:
            yield self
        finally:
            for r in self.recorders.values():
                r.active = False
                r.reset()


def to_logits(x: Union[torch.Tensor, List[torch.Tensor]], layout: str = 'nc',
              num_classes: Optional[int] = None) -> torch.Tensor:
    """Bring recorded logits to ``(N, C)`` rows for a logit loss.

    * ``'nc'``: already ``(N, C)`` (classifier heads, RoI heads).
    * ``'nchw'``: per-pixel logits ``(B, C, H, W)`` -> ``(B·H·W, C)`` (mmseg decode heads' ``conv_seg``).
    * ``'dense'``: per-anchor logits ``(B, A·C, H, W)`` -> ``(B·H·W·A, C)`` (mmdet dense heads such as
      RetinaNet's ``retina_cls``); needs ``num_classes``.

    A list (several calls, e.g. FPN levels) is converted item by item and concatenated.
    """
    if isinstance(x, (list, tuple)):
        return torch.cat([to_logits(v, layout, num_classes) for v in x], dim=0)
    if layout == 'nc':
        return x.flatten(0, -2) if x.ndim > 2 else x
    if layout == 'nchw':
        return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])
    if layout == 'dense':
        if not num_classes:
            raise ValueError("layout='dense' needs num_classes (the head's classes, without background)")
        b, ac, h, w = x.shape
        if ac % num_classes:
            raise ValueError(f'{ac} channels are not a multiple of num_classes={num_classes}')
        x = x.reshape(b, ac // num_classes, num_classes, h, w)
        return x.permute(0, 3, 4, 1, 2).reshape(-1, num_classes)
    raise ValueError(f"layout must be 'nc', 'nchw' or 'dense', got {layout!r}")
