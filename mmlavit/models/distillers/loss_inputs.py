"""Routing recorded values and batch fields to the arguments of each distillation loss.

``loss_inputs = {loss name: {argument: spec}}``; a spec is one of

* ``'<recorder name>'`` — the student's recorder of that name, or the teacher's for the argument
  ``teacher``;
* ``dict(recorder=<name>, from_student=<default: arg != 'teacher'>, call=-1|'all', item=None,
  layout=None|'nc'|'nchw'|'dense', num_classes=None)`` — which call of the module, which item of a
  tuple output, and the logit layout (:func:`~mmlavit.models.distillers.recorders.to_logits`);
* ``dict(from_data=<field>)`` — a field of the batch's data samples, one of :data:`DATA_FIELDS`.

Default for a loss without an entry: ``student='logits', teacher='logits'`` (+
``target=dict(from_data='gt_label')`` when the loss's ``forward`` takes ``target``, as DKD's does).
"""
import difflib
import inspect
from typing import Any, Dict, Optional, Sequence

import torch

from .recorders import RecorderManager, to_logits


def _gt_label(samples: Sequence) -> torch.Tensor:
    return torch.cat([s.gt_label for s in samples]).long()


def _gt_sem_seg(samples: Sequence) -> torch.Tensor:
    return torch.stack([s.gt_sem_seg.data.squeeze(0) for s in samples]).long()


#: ``from_data`` fields: ``name: (what it gives, the scope that fills it, getter(data_samples))``.
DATA_FIELDS: Dict[str, tuple] = {
    'gt_label': ('class labels (N,), long', 'mmpretrain DataSample.gt_label', _gt_label),
    'gt_sem_seg': ('per-pixel labels (B, H, W), long', 'mmseg SegDataSample.gt_sem_seg', _gt_sem_seg),
    'gt_instances.labels': ('a list of per-image box labels (n_i,)', 'mmdet DetDataSample.gt_instances',
                            lambda samples: [s.gt_instances.labels for s in samples]),
    'gt_instances.bboxes': ('a list of per-image boxes (n_i, 4)', 'mmdet DetDataSample.gt_instances',
                            lambda samples: [s.gt_instances.bboxes for s in samples]),
}


class LossInputs:
    """Resolve the ``loss_inputs`` spec of every loss once at build time (errors name the loss, the
    argument and the alternatives) and gather the values inside a recording.

    Args:
        losses (dict): ``{name: loss module}``.
        spec (dict, optional): ``loss_inputs`` (module docstring). Defaults to None.
        student (RecorderManager): the student's recorders.
        teacher (RecorderManager): the teacher's recorders.
    """

    def __init__(self, losses: Dict[str, torch.nn.Module], spec: Optional[dict], student: RecorderManager,
                 teacher: RecorderManager):
        self.student, self.teacher = student, teacher
        spec = spec or {}
        self.routes = {name: self._resolve(name, loss, spec.get(name)) for name, loss in losses.items()}
        unknown = sorted(set(spec) - set(losses))
        if unknown:
            raise KeyError(f'loss_inputs has entries for {unknown}, which are not in losses '
                           f'({sorted(losses)})')

    def _resolve(self, name: str, loss, spec: Optional[dict]) -> Dict[str, dict]:
        params = [p for p in inspect.signature(loss.forward).parameters if p != 'self']
        if spec is None:
            spec = dict(student='logits', teacher='logits')
            if 'target' in params:
                spec['target'] = dict(from_data='gt_label')
        out = {}
        for arg, s in spec.items():
            if arg not in params:
                raise ValueError(f'loss_inputs.{name}: {type(loss).__name__}.forward has no argument {arg!r} '
                                 f'(it takes {params})')
            out[arg] = self._resolve_one(f'loss_inputs.{name}.{arg}', arg, s)
        return out

    def _resolve_one(self, where: str, arg: str, s: Any) -> dict:
        s = dict(recorder=s) if isinstance(s, str) else dict(s)
        if 'from_data' in s:
            field = s['from_data']
            if field not in DATA_FIELDS:
                raise KeyError(f'{where}: unknown from_data field {field!r}; known fields: '
                               + ', '.join(f'{k} ({v[1]})' for k, v in DATA_FIELDS.items()))
            return dict(from_data=field)
        if 'recorder' not in s:
            raise ValueError(f'{where}: a spec is a recorder name, dict(recorder=...) or '
                             f'dict(from_data=...), got {s}')
        s.setdefault('from_student', arg != 'teacher')
        role = 'student' if s['from_student'] else 'teacher'
        side = self.student if s['from_student'] else self.teacher
        if s['recorder'] not in side:
            if s['recorder'] in DATA_FIELDS:
                hint = f"; for the batch's {s['recorder']} write dict(from_data={s['recorder']!r})"
            else:
                close = difflib.get_close_matches(s['recorder'], list(side), n=3, cutoff=0.4)
                hint = f'; close names: {", ".join(close)}' if close else ''
                hint += '; add it under model.recorders'
            raise KeyError(f'{where} reads the {role} recorder "{s["recorder"]}", but the {role} recorders '
                           f'are {", ".join(sorted(side)) or "none"}{hint}')
        return s

    def gather(self, name: str, data_samples) -> Dict[str, Any]:
        """The keyword arguments of loss ``name`` from the current recording and the batch."""
        kwargs = {}
        for arg, s in self.routes[name].items():
            if 'from_data' in s:
                try:
                    kwargs[arg] = DATA_FIELDS[s['from_data']][2](data_samples)
                except (AttributeError, TypeError) as e:
                    raise AttributeError(f'loss_inputs.{name}.{arg}: the batch has no {s["from_data"]} '
                                         f'({DATA_FIELDS[s["from_data"]][1]}): {e}') from e
                continue
            rec = (self.student if s['from_student'] else self.teacher)[s['recorder']]
            v = rec.get(s.get('call', -1), s.get('item'))
            if s.get('layout'):
                v = to_logits(v, s['layout'], s.get('num_classes'))
            kwargs[arg] = v
        return kwargs
