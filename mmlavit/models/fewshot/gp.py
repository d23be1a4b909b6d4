"""GP-MAML / GP-ANIL / GP-BOIL: "Generating Pseudo-labels Adaptively for Few-shot Model-Agnostic
Meta-Learning" (Liu, Wang, Zhang, He; arXiv 2207.04217), as papers.md describes the authors' code.

Per task, at meta-train and meta-test alike (transductive):

1. ``θ' = adapt(θ, support)`` — the base method's inner loop (MAML / ANIL / BOIL).
2. Pseudo-label probabilities for the queries, by **label propagation** (TPN, Liu et al. 2019) over the
   embeddings of support ∪ query — the support-adapted body θ' for MAML/BOIL, a separate encoder for ANIL —
   (``pseudo_label='propagation'``, the paper's way), or the adapted model's own softmax
   (``pseudo_label='model'``, the ablation).
3. :func:`pick_confident`: predicted class and confidence per query; ``m`` = size of the smallest predicted
   class; keep the ``m`` most confident queries of every class (class-balanced, no threshold). ``m = 0``
   keeps θ'.
4. Re-adapt **from θ** on support ∪ picked queries with their pseudo-labels -> θ''; predict the queries
   with θ''.
5. Meta-training loss: ``CE(f_θ''(x_q), y_q) + lp_weight · L_LP`` with ``L_LP`` the cross-entropy of the
   propagated scores of support and query against their true labels (true query labels feed only the
   loss, never the prediction).
"""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmlavit.registry import build_model, register
from .maml import MAML


def label_propagation(emb: torch.Tensor, y_support: torch.Tensor, num_ways: int, k: int = 20,
                      alpha: float = 0.99, sigma: Optional[torch.Tensor] = None) -> torch.Tensor:
    """TPN's closed-form propagation. ``emb`` (M, D): support rows first, then queries; ``y_support`` (Ns,).

    ``W_ij = exp(−mean_d((e_i/σ_i − e_j/σ_j)²) / 2)`` kept on each row's k nearest neighbours (symmetrised),
    ``S = D^-1/2 W D^-1/2``, ``F = (I − α S)^-1 Y`` with Y the one-hot support labels and zero rows for the
    queries. Returns ``F`` (M, N): propagated class scores for every node.
    """
    m = emb.shape[0]
    e = emb if sigma is None else emb / (sigma.view(-1, 1) + 1e-6)
    d2 = (e.unsqueeze(1) - e.unsqueeze(0)).pow(2).mean(-1)
    w = torch.exp(-d2 / 2)
    k = min(k, m)
    kth = w.topk(k, dim=1).values[:, -1:]
    mask = w >= kth
    mask = mask | mask.t()
    w = w * mask
    d_inv_sqrt = (w.sum(1) + 1e-12).rsqrt()
    s = d_inv_sqrt.view(-1, 1) * w * d_inv_sqrt.view(1, -1)
    y = torch.zeros(m, num_ways, dtype=emb.dtype, device=emb.device)
    y[torch.arange(len(y_support)), y_support] = 1
    eye = torch.eye(m, dtype=emb.dtype, device=emb.device)
    return torch.linalg.solve(eye - alpha * s, y)


def pick_confident(probs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Class-balanced adaptive picking. ``probs`` (Q, N) -> (query indices, pseudo-labels).

    Each query's predicted class is its argmax, its confidence the max probability; ``m`` is the number of
    queries in the smallest predicted class (0 when a class is never predicted, then nothing is picked);
    the ``m`` most confident queries of every class are kept, class by class."""
    conf, pred = probs.max(1)
    n = probs.shape[1]
    counts = torch.bincount(pred, minlength=n)
    m = int(counts.min())
    if m == 0:
        empty = torch.zeros(0, dtype=torch.long, device=probs.device)
        return empty, empty
    idx = []
    for c in range(n):
        members = (pred == c).nonzero(as_tuple=True)[0]
        idx.append(members[conf[members].argsort(descending=True)[:m]])
    idx = torch.cat(idx)
    return idx, pred[idx]


class RelationScale(nn.Module):
    """TPN's per-sample scale σ for the propagation graph (ours: an MLP on the flat embedding, softplus
    output, so that σ > 0): ``(M, D) -> (M,)``."""

    def __init__(self, dim: int, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))

    def forward(self, emb):
        return F.softplus(self.net(emb)).squeeze(1) + 1e-3


class GPMixin:
    """The pseudo-labelling steps shared by GP-MAML / GP-ANIL / GP-BOIL (see the module docstring)."""

    def _init_gp(self, backbone, img_size, pseudo_label, k, alpha, lp_weight, relation, own_encoder):
        if pseudo_label not in ('propagation', 'model'):
            raise ValueError(f"pseudo_label must be 'propagation' (label propagation, the paper) or 'model' "
                             f"(the adapted model's predictions), got {pseudo_label!r}")
        self.pseudo_label, self.lp_k, self.lp_alpha, self.lp_weight = pseudo_label, k, alpha, lp_weight
        self.lp_encoder = None
        if pseudo_label == 'propagation' and own_encoder:
            self.lp_encoder = build_model(backbone) if isinstance(backbone, dict) else backbone
        dim = self.learner.head.in_features
        if self.lp_encoder is not None:
            with torch.no_grad():
                dim = self.lp_encoder.train()(torch.zeros(2, 3, img_size, img_size)).flatten(1).shape[1]
        self.relation = RelationScale(dim) if (pseudo_label == 'propagation' and relation) else None

    def _embed(self, x, fast):
        if self.lp_encoder is not None:
            return self.lp_encoder(x).flatten(1)
        return self.features(x, fast)

    def pseudo_probs(self, xs, ys, xq, yq, fast) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Query pseudo-label probabilities (Q, N) and, when training with propagation, the LP loss."""
        if self.pseudo_label == 'model':
            return self.query_logits(xq, fast).softmax(1), None
        emb = torch.cat([self._embed(xs, fast), self._embed(xq, fast)])
        sigma = self.relation(emb) if self.relation is not None else None
        scores = label_propagation(emb, ys, self.num_ways, self.lp_k, self.lp_alpha, sigma)
        lp_loss = F.cross_entropy(scores, torch.cat([ys, yq])) if self.training else None
        return scores[len(ys):].softmax(1), lp_loss

    def task(self, xs, ys, xq, yq) -> Dict[str, torch.Tensor]:
        fast = self.adapt(xs, ys)
        probs, lp_loss = self.pseudo_probs(xs, ys, xq, yq, fast)
        idx, pseudo = pick_confident(probs.detach())
        if len(idx):
            fast = self.adapt(torch.cat([xs, xq[idx]]), torch.cat([ys, pseudo]))  # from θ, not θ'
        logits = self.query_logits(xq, fast)
        out = dict(logits=logits, pick_rate=torch.tensor(len(idx) / len(yq)),
                   pseudo_acc=(pseudo == yq[idx]).float().mean() if len(idx) else torch.tensor(float('nan')))
        if self.training:
            out['loss'] = F.cross_entropy(logits, yq)
            if lp_loss is not None:
                out['loss_lp'] = self.lp_weight * lp_loss
        return out

    def loss(self, inputs: dict):
        losses = super().loss(inputs)
        if 'loss_lp' in losses:  # summed into `loss` by parse_losses: keep the query CE under its own name
            losses['loss_query'] = losses.pop('loss')
        return losses


_GP_ARGS = """
    GP args (every knob in the config):
        pseudo_label: ``'propagation'`` (label propagation, the paper) or ``'model'`` (ablation).
        lp_k, lp_alpha: the propagation graph's neighbours (20) and α (0.99).
        lp_weight: weight of the propagation loss in the meta-training loss (1).
        relation: learn TPN's per-sample graph scale σ (True).
        own_encoder: the propagation embeds with its own copy of the backbone instead of the support-adapted
            body θ' (default: True for GP-ANIL, whose body the inner loop does not adapt; False otherwise).
    Other args: :class:`~mmlavit.models.fewshot.MAML`."""


@register('model')
class GPMAML(GPMixin, MAML):
    __doc__ = 'GP-MAML: MAML + adaptive pseudo-labelling of confident queries.' + _GP_ARGS
    default_own_encoder = False

    def __init__(self, backbone: dict, pseudo_label: str = 'propagation', lp_k: int = 20, lp_alpha: float = 0.99,
                 lp_weight: float = 1.0, relation: bool = True, own_encoder: Optional[bool] = None, **kwargs):
        MAML.__init__(self, backbone, **kwargs)
        self._init_gp(backbone, kwargs.get('img_size', 84), pseudo_label, lp_k, lp_alpha, lp_weight, relation,
                      self.default_own_encoder if own_encoder is None else own_encoder)


@register('model')
class GPANIL(GPMAML):
    __doc__ = 'GP-ANIL: ANIL (head-only inner loop) + adaptive pseudo-labelling.' + _GP_ARGS
    default_inner = 'head'
    default_own_encoder = True


@register('model')
class GPBOIL(GPMAML):
    __doc__ = 'GP-BOIL: BOIL (body-only inner loop) + adaptive pseudo-labelling.' + _GP_ARGS
    default_inner = 'body'
