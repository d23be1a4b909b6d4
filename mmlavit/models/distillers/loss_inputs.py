"""Routing recorded values and batch fields to the arguments of each distillation loss.

``loss_inputs = {loss name: {argument: spec}}``; a spec is one of

* ``'<recorder name>'`` — the student's recorder of that name, or the teacher's for the argument
  ``teacher``;
* ``dict(recorder=<name>, from_student=<default: arg != 'teacher'>, call=-1|'all', item=None, levels=None,
  connector=None, level_connectors=None, layout=None|'nc'|'nchw'|'dense', num_classes=None)`` — which call
  of the module, which item of a tuple output, which levels of a sequence (a neck's tuple output or
  ``call='all'``: ``levels=(0, 1, 2)`` gives those entries, for a loss over several levels), the connector
  the value goes through (:mod:`~mmlavit.models.distillers.connectors`: one config, or a list = a chain; on
  ``levels``, one connector per level; ``level_connectors``: a config per level) and the logit layout
  (:func:`~mmlavit.models.distillers.recorders.to_logits`), applied in this order;
* ``dict(from_data=<field>)`` — a field of the batch's data samples, one of :data:`DATA_FIELDS`.

Default for a loss without an entry: ``student='logits', teacher='logits'`` (+
``target=dict(from_data='gt_label')`` when the loss's ``forward`` takes ``target``, as DKD's does).
"""
import difflib
import inspect
from typing import Any, Dict, Optional, Sequence

import torch
import torch.nn as nn

from .connectors import ConnectorChain, build_connector
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
#: the keys of a recorder spec
RECORDER_KEYS = ('recorder', 'from_student', 'call', 'item', 'levels', 'connector', 'level_connectors',
                 'layout', 'num_classes')


class LossInputs:
    """Resolve the ``loss_inputs`` spec of every loss once at build time (errors name the loss, the
    argument and the alternatives), build its connectors (:attr:`connectors`, ``{loss: {arg: connector}}``,
    which the distiller holds as a submodule) and gather the values inside a recording.

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
        self.connectors = nn.ModuleDict()
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
            conn = self._build_connectors(f'model.loss_inputs.{name}.{arg}', arg, out[arg])
            if conn is not None:
                if name not in self.connectors:
                    self.connectors[name] = nn.ModuleDict()
                self.connectors[name][arg] = conn
        return out

    @staticmethod
    def _build_connectors(where: str, arg: str, s: dict) -> Optional[nn.Module]:
        """A :class:`ConnectorChain`, or an ``nn.ModuleList`` of them with ``levels`` (one per level)."""
        one, per = s.get('connector'), s.get('level_connectors')
        if one is None and per is None:
            return None
        if 'recorder' not in s:
            raise ValueError(f'{where}: a connector maps a recorded value; from_data fields take none')
        if one is not None and per is not None:
            raise ValueError(f'{where}: give connector (the same for every level) or level_connectors (one '
                             'per level), not both')
        levels = s.get('levels')
        if per is not None:
            if levels is None or len(per) != len(levels):
                raise ValueError(f'{where}: level_connectors needs levels=(...) of the same length (one '
                                 f'connector per level), got {len(per)} connectors for levels={levels}')
            conn = nn.ModuleList(ConnectorChain() if c is None else build_connector(c, f'{where}[{i}]')
                                 for i, c in enumerate(per))
        elif levels is not None:
            conn = nn.ModuleList(build_connector(one, where) for _ in levels)  # separate weights per level
        else:
            conn = build_connector(one, where)
        if not s['from_student'] and any(p.requires_grad for p in conn.parameters()):
            raise ValueError(f"{where}: a learned connector on the teacher's side would never train (the "
                             "losses detach the teacher's values): put it on the student input, mapping the "
                             "student to the teacher (a SpatialResize, which learns nothing, may sit on "
                             'either side)')
        return conn

    def _resolve_one(self, where: str, arg: str, s: Any) -> dict:
        s = dict(recorder=s) if isinstance(s, str) else dict(s)
        unknown = sorted(set(s) - set(RECORDER_KEYS) - {'from_data'})
        if unknown:
            raise KeyError(f'{where}: unknown keys {unknown}; a recorder spec takes '
                           + ', '.join(RECORDER_KEYS))
        if s.get('levels') is not None:
            lv = s['levels']
            if not (isinstance(lv, (list, tuple)) and lv and all(isinstance(i, int) for i in lv)):
                raise ValueError(f'{where}: levels is a tuple of indices into the recorded sequence (e.g. '
                                 f"an FPN neck's outputs), e.g. levels=(0, 1, 2, 3); got {lv!r}")
            s['levels'] = tuple(lv)
        if 'from_data' in s:
            if len(s) > 1:
                raise ValueError(f'{where}: a from_data spec takes no other keys (got {sorted(s)}): '
                                 'connectors, levels and layouts apply to recorded values')
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
        """The keyword arguments of loss ``name`` from the current recording and the batch: recorded value
        (call, item, levels) -> connectors -> layout."""
        raw = {}
        for arg, s in self.routes[name].items():
            if 'from_data' in s:
                try:
                    raw[arg] = DATA_FIELDS[s['from_data']][2](data_samples)
                except (AttributeError, TypeError) as e:
                    raise AttributeError(f'loss_inputs.{name}.{arg}: the batch has no {s["from_data"]} '
                                         f'({DATA_FIELDS[s["from_data"]][1]}): {e}') from e
                continue
            rec = (self.student if s['from_student'] else self.teacher)[s['recorder']]
            v = rec.get(s.get('call', -1), s.get('item'))
            if s.get('levels') is not None:
                v = self._pick_levels(f'model.loss_inputs.{name}.{arg}', s, v)
            raw[arg] = v
        kwargs = dict(raw)
        if name in self.connectors:
            for arg, conn in self.connectors[name].items():
                other = {'student': 'teacher', 'teacher': 'student'}.get(arg)
                kwargs[arg] = self._connect(f'model.loss_inputs.{name}.{arg}', conn, raw[arg],
                                            raw.get(other))
        for arg, s in self.routes[name].items():
            if s.get('layout'):
                kwargs[arg] = to_logits(kwargs[arg], s['layout'], s.get('num_classes'))
        return kwargs

    @staticmethod
    def _pick_levels(where: str, s: dict, v: Any) -> list:
        if not isinstance(v, (list, tuple)):
            shape = f' of shape {tuple(v.shape)}' if torch.is_tensor(v) else ''
            raise ValueError(f'{where}: levels={s["levels"]} picks entries of a sequence (a tuple output '
                             f"such as an FPN neck's, or call='all'), but recorder {s['recorder']!r} gives "
                             f'one {type(v).__name__}{shape}')
        bad = [i for i in s['levels'] if not -len(v) <= i < len(v)]
        if bad:
            raise IndexError(f'{where}: levels {bad} are out of range: recorder {s["recorder"]!r} gives '
                             f'{len(v)} levels')
        return [v[i] for i in s['levels']]

    @staticmethod
    def _connect(where: str, conn: nn.Module, v: Any, ref: Any) -> Any:
        if isinstance(conn, ConnectorChain):
            if isinstance(v, (list, tuple)):
                raise ValueError(f'{where}: the value has {len(v)} levels; a connector on several levels '
                                 'needs levels=(...) in the same spec, so that one connector is built per '
                                 'level')
            return conn(v, ref)
        refs = ref if isinstance(ref, (list, tuple)) and len(ref) == len(v) else [ref] * len(v)
        return [c(x, r) for c, x, r in zip(conn, v, refs)]
