"""How hard each loss of a distiller pulls on the student (``tools/analysis_tools/distill_gradients.py``): per
logged loss term, its value, the norm of its gradient on the student's trainable parameters and the cosine
between that gradient and a reference term's, averaged over batches."""
from typing import Dict, Iterable, Optional, Tuple

import torch
import torch.nn.functional as F


def load_distill_config(config: str, cfg_options: Optional[dict] = None):
    """The config at ``config`` (with ``cfg_options`` merged); raises ``ValueError`` naming the file unless
    its model is a ``SingleTeacherDistiller`` (and for the former top-level distiller block)."""
    from mmengine.config import Config

    from mmlavit.models.distillers import check_no_legacy_distiller
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    check_no_legacy_distiller(cfg, config)
    if str(cfg.model.get('type', '')).split('.')[-1] != 'SingleTeacherDistiller':
        raise ValueError(f'{config}: model.type is {cfg.model.get("type")!r}, not SingleTeacherDistiller: '
                         'this tool compares the losses of a distillation config (see configs/distill/)')
    return cfg


def _term(v):
    return sum(v) if isinstance(v, (list, tuple)) else v


def measure(model, batches: Iterable, reference: Optional[str] = None
            ) -> Tuple[str, Dict[str, Tuple[float, float, float]]]:
    """``(reference, {term: (mean value, mean ‖∇θ‖, mean cos(∇θ, ∇θ reference))})`` over ``batches`` (data
    batches as a dataloader gives them); θ = the student's trainable parameters. The reference defaults to
    ``distill.loss_kd`` where the model has it, else its first loss."""
    params = [p for p in model.student.parameters() if p.requires_grad]
    sums, ref_name = {}, reference
    for batch in batches:
        data = model.data_preprocessor(batch, True)
        losses = {k: _term(v) for k, v in model.loss(data['inputs'], data['data_samples']).items()
                  if 'loss' in k and torch.is_tensor(_term(v)) and _term(v).requires_grad}
        if ref_name is None:
            ref_name = 'distill.loss_kd' if 'distill.loss_kd' in losses else next(iter(losses))
        if ref_name not in losses:
            raise KeyError(f'--reference {ref_name!r} is not a loss of this config; its losses: '
                           f'{sorted(losses)}')
        grads = {}
        for k, v in losses.items():
            g = torch.autograd.grad(v, params, retain_graph=True, allow_unused=True)
            grads[k] = torch.cat([(x if x is not None else torch.zeros_like(p)).flatten()
                                  for x, p in zip(g, params)])
        for k, g in grads.items():
            s = sums.setdefault(k, [0.0, 0.0, 0.0, 0])
            s[0] += losses[k].item()
            s[1] += g.norm().item()
            s[2] += F.cosine_similarity(g, grads[ref_name], dim=0).item()
            s[3] += 1
    if not sums:
        raise ValueError('the training dataloader gave no batch')
    return ref_name, {k: (v / n, g / n, c / n) for k, (v, g, c, n) in sums.items()}
