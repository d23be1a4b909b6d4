"""A checkpoint's tensors against a model's: the one comparison behind the teacher-checkpoint check
(:func:`mmlavit.models.distillers.teacher.load_teacher_checkpoint`) and the tools' ``load_from`` /
``init_cfg`` check (:func:`mmlavit.apis.checkpoint_check.check_checkpoint_fits`)."""
import re
from typing import Dict, List, NamedTuple, Optional


def checkpoint_state_dict(path: str, prefix: Optional[str] = None) -> Dict[str, object]:
    """The tensors of the checkpoint at ``path`` (local or URL, read by mmengine): its ``state_dict`` (else
    ``model``, else the file itself), without a ``module.`` (DataParallel) prefix; with ``prefix``, only the
    keys under it, with the prefix removed (as ``init_cfg=dict(type='Pretrained', prefix=...)`` loads)."""
    from mmengine.runner.checkpoint import _load_checkpoint
    ckpt = _load_checkpoint(path, map_location='cpu')
    sd = ckpt.get('state_dict', ckpt.get('model', ckpt)) if isinstance(ckpt, dict) else {}
    sd = {re.sub(r'^module\.', '', k): v for k, v in sd.items() if hasattr(v, 'shape')}
    if prefix:
        p = prefix if prefix.endswith('.') else prefix + '.'
        sd = {k[len(p):]: v for k, v in sd.items() if k.startswith(p)}
    return sd


class StateDictFit(NamedTuple):
    """How a checkpoint's state dict fits a model's (:func:`state_dict_fit`)."""
    missing: List[str]  # model keys the checkpoint lacks
    unexpected: List[str]  # checkpoint keys the model lacks
    shape: List[str]  # keys of both with other shapes
    fit: float  # the share of the model's tensors the checkpoint fills (0 for a model without tensors)

    @property
    def exact(self) -> bool:
        return not (self.missing or self.unexpected or self.shape)

    def describe(self, model_sd: dict, ckpt_sd: dict) -> str:
        """The other shapes, missing and unexpected keys, a few of each, in one line."""
        def some(keys, n):
            return ', '.join(keys[:n]) + (f' (+{len(keys) - n} more)' if len(keys) > n else '')

        parts = []
        if self.shape:
            parts.append('other shapes: ' + ', '.join(
                f'{k} {tuple(ckpt_sd[k].shape)} in the checkpoint vs {tuple(model_sd[k].shape)} in the model'
                for k in self.shape[:3]) + (f' (+{len(self.shape) - 3} more)' if len(self.shape) > 3 else ''))
        if self.missing:
            parts.append(f'missing from the checkpoint: {some(self.missing, 5)}')
        if self.unexpected:
            parts.append(f'not in the model: {some(self.unexpected, 5)}')
        return '; '.join(parts)


def state_dict_fit(model_sd: dict, ckpt_sd: dict) -> StateDictFit:
    """Compare a checkpoint's state dict with a model's: the key lists (in the order of the model, or of the
    checkpoint for unexpected keys) and the share of the model's tensors the checkpoint fills with a tensor
    of the same shape."""
    missing = [k for k in model_sd if k not in ckpt_sd]
    unexpected = [k for k in ckpt_sd if k not in model_sd]
    shape = [k for k in model_sd if k in ckpt_sd and hasattr(ckpt_sd[k], 'shape')
             and tuple(model_sd[k].shape) != tuple(ckpt_sd[k].shape)]
    fit = (len(model_sd) - len(missing) - len(shape)) / len(model_sd) if model_sd else 0.0
    return StateDictFit(missing, unexpected, shape, fit)
