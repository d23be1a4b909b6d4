"""One loss over several feature levels (an FPN neck's tuple output, a dense head's per-level calls).

:func:`level_pairs` pairs the student's and the teacher's levels with their weights; :func:`sum_levels` sums a
per-level loss over them (the feature losses :class:`ChannelWiseDivergence`, :class:`PKDLoss` and
:class:`FeatureMSELoss` take a map or a sequence of maps this way), and :class:`MultiLevelLoss` does the same
for any other loss — e.g. TRG on FPN tokens, one token graph per level.
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from mmlavit.registry import build_model, register

Maps = Union[torch.Tensor, Sequence[torch.Tensor]]


def is_multi_level(x) -> bool:
    return isinstance(x, (list, tuple))


def level_pairs(student: Maps, teacher: Maps, level_weights: Optional[Sequence[float]] = None,
                name: str = 'the loss') -> List[Tuple[torch.Tensor, torch.Tensor, float]]:
    """``[(student level, teacher level, weight)]``: a single map is one level; sequences must have the same
    length, and ``level_weights`` (None: 1 for each) one weight per level."""
    if is_multi_level(student) != is_multi_level(teacher):
        n = len(student if is_multi_level(student) else teacher)
        raise ValueError(f'{name}: one side gives a sequence of {n} levels, the other a single map: route '
                         'both from the same kind of recorder (e.g. the neck, with the same levels=...)')
    if not is_multi_level(student):
        student, teacher = [student], [teacher]
    if len(student) != len(teacher):
        raise ValueError(f'{name}: the student gives {len(student)} levels, the teacher {len(teacher)}: pick '
                         'the same ones with levels=(...) in both loss inputs')
    if level_weights is None:
        level_weights = [1.0] * len(student)
    elif len(level_weights) != len(student):
        raise ValueError(f'{name}: level_weights has {len(level_weights)} entries for {len(student)} levels: '
                         'give one weight per level')
    return list(zip(student, teacher, level_weights))


def sum_levels(fn: Callable, student: Maps, teacher: Maps, level_weights: Optional[Sequence[float]] = None,
               name: str = 'the loss') -> Union[torch.Tensor, Dict[str, torch.Tensor]]:
    """``Σ_l w_l · fn(student_l, teacher_l)``; a dict result (several terms) is summed per key."""
    total = None
    for s, t, w in level_pairs(student, teacher, level_weights, name):
        out = fn(s, t)
        if isinstance(out, dict):
            out = {k: w * v for k, v in out.items()}
            total = out if total is None else {k: total[k] + v for k, v in out.items()}
        else:
            total = w * out if total is None else total + w * out
    return total


@register('model')
class MultiLevelLoss(nn.Module):
    """Apply one loss to every level of a multi-level input and sum the results, ``Σ_l w_l · loss(S_l, T_l)``
    (for losses that take one map, e.g. ``TRGLoss`` on FPN tokens: one token graph per level, one projector
    shared by the levels, which have the same channels in an FPN).

    Args:
        loss (dict | nn.Module): the per-level loss (a config, built in the current scope, or a module).
        level_weights (Sequence[float], optional): one weight per level. Defaults to None (1 for each).

    Inputs: ``student``, ``teacher``: sequences of the same length (a single map is one level). A loss that
    returns a dict of terms gives the same keys, each summed over the levels. ``set_progress`` (warm-ups,
    TRG's temperature) is passed on to the inner loss.
    """

    def __init__(self, loss: Union[dict, nn.Module], level_weights: Optional[Sequence[float]] = None):
        super().__init__()
        self.loss = build_model(loss) if isinstance(loss, dict) else loss
        self.level_weights = None if level_weights is None else [float(w) for w in level_weights]

    def set_progress(self, p: float) -> None:
        if hasattr(self.loss, 'set_progress'):
            self.loss.set_progress(p)

    def check_inputs(self, inputs: dict, key: str, where: str) -> None:
        """The distiller's hook: the levels pair up, and the inner loss's own check passes on each."""
        check = getattr(self.loss, 'check_inputs', None)
        pairs = level_pairs(inputs.get('student'), inputs.get('teacher'), self.level_weights, where)
        for i, (s, t, _) in enumerate(pairs):
            if check is not None:
                check(dict(inputs, student=s, teacher=t), f'{key}.loss', f'{where} level {i}')

    def forward(self, student: Maps, teacher: Maps):
        return sum_levels(self.loss, student, teacher, self.level_weights, type(self.loss).__name__)


def connector_hint(student_shape: Sequence[int], teacher_shape: Sequence[int],
                   arg: str = 'the student input') -> str:
    """What to add to the student's loss input so that its ``(N, C, H, W)`` map takes the teacher's shape."""
    s, t = tuple(student_shape), tuple(teacher_shape)
    fixes = []
    if len(s) == len(t) == 4 and s[0] == t[0]:
        if s[1] != t[1]:
            fixes.append(f"dict(type='ChannelAdapter', in_channels={s[1]}, out_channels={t[1]})")
        if s[2:] != t[2:]:
            fixes.append("dict(type='SpatialResize', mode='bilinear')")
    if not fixes:
        return ('no connector makes them fit: route maps of the same batch and rank (the same module kind, '
                'call and item on both sides)')
    conn = fixes[0] if len(fixes) == 1 else '[' + ', '.join(fixes) + ']'
    return (f'add connector={conn} to {arg} (SpatialResize: mode bilinear, nearest, bicubic, area or '
            'adaptive_avg; it resizes to the other side\'s H x W)')


def check_same_shape(s: torch.Tensor, t: torch.Tensor, name: str) -> None:
    """Feature losses compare maps element by element: the shapes must agree (no silent resize)."""
    if s.shape != t.shape:
        raise ValueError(f'{name}: student map {tuple(s.shape)} and teacher map {tuple(t.shape)} differ: '
                         + connector_hint(s.shape, t.shape))


def check_feature_pairs(inputs: dict, key: str, where: str,
                        level_weights: Optional[Sequence[float]] = None) -> None:
    """The distiller's ``check_inputs`` hook for losses that compare maps element by element: every level
    of ``inputs['student']`` must have the shape of the teacher's; the error names ``where`` (the loss and
    its recorders), both shapes and the connector to add under ``model.loss_inputs.<loss>.student``."""
    st, te = inputs.get('student'), inputs.get('teacher')
    if st is None or te is None:
        return
    pairs = level_pairs(st, te, level_weights, where)
    parts = key.split('.')  # 'model.losses.<loss>', or '<that>.loss' from MultiLevelLoss
    loss = parts[2] if key.startswith('model.losses.') and len(parts) > 2 else parts[-1]
    for i, (s, t, _) in enumerate(pairs):
        if torch.is_tensor(s) and torch.is_tensor(t) and s.shape != t.shape:
            lvl = f' level {i}:' if len(pairs) > 1 else ''
            raise ValueError(f'{where}:{lvl} the student map is {tuple(s.shape)}, the teacher map '
                             f'{tuple(t.shape)}; the loss compares them element by element and nothing is '
                             'resized silently: '
                             + connector_hint(s.shape, t.shape, f'model.loss_inputs.{loss}.student'))


class FeatureMapLoss(nn.Module):
    """Base of the losses that compare maps element by element (CWD, PKD, feature MSE):
    ``w · Σ_l w_l · one_level(S_l, T_l)`` over one map or a sequence of levels, with the shape check the
    distiller calls before each loss (naming the recorders and the connector to add; the loss itself checks
    again when called outside a distiller). Subclasses define :meth:`one_level` on one pair of maps of the
    same shape (``min_ndim`` dimensions at least)."""
    min_ndim = 1

    def __init__(self, loss_weight: float = 1.0, level_weights: Optional[Sequence[float]] = None):
        super().__init__()
        self.loss_weight, self.level_weights = loss_weight, level_weights

    def check_inputs(self, inputs: dict, key: str, where: str) -> None:
        """The distiller's hook: each level's maps have the same shape, else an error naming the
        recorders, both shapes and the connector to add."""
        check_feature_pairs(inputs, key, where, self.level_weights)

    def one_level(self, s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _one(self, s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        name = type(self).__name__
        check_same_shape(s, t, name)
        if s.ndim < self.min_ndim:
            raise ValueError(f'{name} takes (N, C, H, W) maps, got shape {tuple(s.shape)}')
        return self.one_level(s, t)

    def forward(self, student: Maps, teacher: Maps) -> torch.Tensor:
        return self.loss_weight * sum_levels(self._one, student, teacher, self.level_weights,
                                             type(self).__name__)
