"""Configs of the old form — a top-level ``distiller`` block beside a plain student ``model`` — are refused.

Only mmlavit's own tools used to apply that block; every other entry point (mmpretrain's / mmdet's /
mmseg's ``tools/train.py``, ``mim train``, ``Runner.from_cfg``) silently trained the plain student. A
distilled run is now ``cfg.model = dict(type='SingleTeacherDistiller', ...)``, and the old block fails at
once with the new form written out for that config:

* in ``mmlavit.apis.load_config`` (our ``tools/train.py`` / ``tools/test.py`` and the analysis tools);
* in ``Runner.from_cfg`` — and so in the upstream tools and ``mim train`` — whenever mmlavit is imported
  (``import mmlavit`` or ``custom_imports=dict(imports=['mmlavit'])``, which every old distillation config
  has, since its losses are ours): :func:`guard_runner_from_cfg` wraps it at import.
"""
import pprint
from typing import Any

from mmengine.config import Config, ConfigDict


class LegacyDistillerConfigError(ValueError):
    """A config with the old top-level ``distiller`` block."""


def _plain(x: Any) -> Any:
    if isinstance(x, (dict, ConfigDict)):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x)
    return x


def new_form(block: dict) -> str:
    """The ``model = dict(type='SingleTeacherDistiller', ...)`` text equivalent to an old ``distiller``
    block (its ``'gt_label'`` inputs become ``dict(from_data='gt_label')``)."""
    block = _plain(block)
    for spec in (block.get('loss_inputs') or {}).values():
        for arg, s in list(spec.items()):
            if s == 'gt_label':
                spec[arg] = dict(from_data='gt_label')
    body = ''.join(f'    {k}={pprint.pformat(v, width=100, sort_dicts=False)},\n' for k, v in block.items())
    return ("model = dict(\n    _delete_=True, type='SingleTeacherDistiller',\n"
            '    student={{_base_.model}},  # the student: the model of this config\'s _base_\n' + body + ')')


def check_no_legacy_distiller(cfg: Config, source: str = '<config>') -> None:
    """Raise :class:`LegacyDistillerConfigError` when ``cfg`` has a top-level ``distiller`` block."""
    block = cfg.get('distiller')
    if block is None:
        return
    raise LegacyDistillerConfigError(
        f'{source}: the top-level `distiller` block is no longer read (it made every entry point but '
        "mmlavit's tools train the plain student). Make the distiller the config's model instead — replace "
        'the block with:\n\n' + new_form(block) + '\n\n(and use --cfg-options model.teacher.checkpoint=... '
        'where you wrote distiller.teacher.checkpoint=...). See configs/distill/README.md.')


def guard_runner_from_cfg() -> None:
    """Make mmengine's ``Runner.from_cfg`` (used by the upstream tools and mim) refuse an old ``distiller``
    block instead of training the plain student. Idempotent; other configs pass through unchanged."""
    from mmengine.runner import Runner
    original = Runner.__dict__['from_cfg'].__func__
    if getattr(original, '_mmlavit_guard', False):
        return

    def from_cfg(cls, cfg):
        check_no_legacy_distiller(cfg, getattr(cfg, 'filename', None) or '<config>')
        return original(cls, cfg)

    from_cfg._mmlavit_guard = True
    from_cfg.__doc__ = original.__doc__
    Runner.from_cfg = classmethod(from_cfg)
