"""GP-MAML / GP-ANIL / GP-BOIL: "Generating Pseudo-labels Adaptively for Few-shot Model-Agnostic
Meta-Learning" (Liu, Wang, Zhang, He; arXiv 2207.04217), after the authors' public code (docs/references.md;
what is theirs and what is ours: docs/distill_fewshot_design.md).

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
import math
from typing import Dict, Optional, Tuple, Union

import numpy as np
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
    """TPN's per-sample scale σ for the propagation graph, ``(M, D) -> (M,)``.

    Args:
        dim (int): the flat embedding's size D.
        hidden (int): hidden width of the MLP. Defaults to 64.
        kind (str): ``'conv'`` — the authors' (TPN's) relation network: on the ``(C, h, w)`` feature map,
            two blocks of ``3×3 conv -> BN -> ReLU -> 2×2 max-pool (padding 1)`` (C then 1 channels), then
            ``Linear -> ReLU -> Linear(8, 1)``; σ is the raw output (unbounded, as theirs). ``'mlp'`` — ours:
            ``Linear(D, hidden) -> ReLU -> Linear(hidden, 1)`` on the flat embedding, ``softplus + 1e-3`` so
            that σ > 0. Defaults to ``'conv'``.
        map_shape (tuple, optional): ``(C, h, w)`` of the feature map, needed by ``'conv'``.
    Batch norm here uses batch statistics (``track_running_stats=False``) like the backbones: the whole task
    is one batch at meta-train and meta-test.
    """

    def __init__(self, dim: int, hidden: int = 64, kind: str = 'conv', map_shape: Optional[tuple] = None):
        super().__init__()
        if kind not in ('conv', 'mlp'):
            raise ValueError(f"relation must be 'conv' (the authors' conv net on the feature map), 'mlp' "
                             f"(ours) or None, got {kind!r}")
        self.kind = kind
        if kind == 'mlp':
            self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))
            return
        if map_shape is None or int(np.prod(map_shape)) != dim:
            raise ValueError(f"relation='conv' needs the embedding's feature map (C, h, w) with C·h·w = "
                             f"{dim}; got {map_shape}. Give the backbone an `out_channels` attribute and a "
                             f"square map, or use relation='mlp'")
        self.map_shape = tuple(map_shape)
        c = map_shape[0]

        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1),
                                 nn.BatchNorm2d(cout, track_running_stats=False), nn.ReLU(inplace=True),
                                 nn.MaxPool2d(2, padding=1))

        self.convs = nn.Sequential(block(c, c), block(c, 1))
        with torch.no_grad():
            n = self.convs(torch.zeros(2, *map_shape)).flatten(1).shape[1]
        self.net = nn.Sequential(nn.Linear(n, 8), nn.ReLU(inplace=True), nn.Linear(8, 1))

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        if self.kind == 'mlp':
            return F.softplus(self.net(emb)).squeeze(1) + 1e-3
        x = self.convs(emb.view(len(emb), *self.map_shape)).flatten(1)
        return self.net(x).squeeze(1)


def _map_shape(body: nn.Module, dim: int) -> Optional[tuple]:
    """``(C, h, w)`` of a backbone's flat ``dim`` features when it says its ``out_channels`` and the map is
    square; else None."""
    c = getattr(body, 'out_channels', None)
    if not c or dim % c:
        return None
    side = int(round(math.sqrt(dim // c)))
    return (c, side, side) if side * side * c == dim else None


class GPMixin:
    """The pseudo-labelling steps shared by GP-MAML / GP-ANIL / GP-BOIL (see the module docstring)."""

    def _init_gp(self, backbone, img_size, in_channels, pseudo_label, k, alpha, lp_weight, relation, lp_batch,
                 own_encoder):
        if pseudo_label not in ('propagation', 'model'):
            raise ValueError(f"pseudo_label must be 'propagation' (label propagation, the paper) or 'model' "
                             f"(the adapted model's predictions), got {pseudo_label!r}")
        if lp_batch not in ('joint', 'split'):
            raise ValueError(f"lp_batch must be 'joint' (support and query in one forward, the authors') or "
                             f"'split' (two forwards, ours before), got {lp_batch!r}")
        if relation is True:
            relation = 'conv'
        self.pseudo_label, self.lp_k, self.lp_alpha, self.lp_weight = pseudo_label, k, alpha, lp_weight
        self.lp_batch = lp_batch
        self.lp_encoder = None
        if pseudo_label == 'propagation' and own_encoder:
            self.lp_encoder = build_model(backbone) if isinstance(backbone, dict) else backbone
        body = self.learner.body if self.lp_encoder is None else self.lp_encoder
        dim = self.learner.head.in_features
        if self.lp_encoder is not None:
            with torch.no_grad():
                probe = torch.zeros(2, in_channels, img_size, img_size)
                dim = self.lp_encoder.train()(probe).flatten(1).shape[1]
        self.relation = None
        if pseudo_label == 'propagation' and relation:
            self.relation = RelationScale(dim, kind=relation, map_shape=_map_shape(body, dim))

    def _embed(self, x, fast):
        if self.lp_encoder is not None:
            return self.lp_encoder(x).flatten(1)
        return self.features(x, fast)

    def lp_embed(self, xs: torch.Tensor, xq: torch.Tensor, fast) -> torch.Tensor:
        """Embeddings ``(Ns + Nq, D)`` of support then query for the propagation graph: one forward of
        ``cat(xs, xq)`` (``lp_batch='joint'``, the authors': batch norm normalises over the whole task) or
        one forward each (``'split'``: each set by its own statistics)."""
        if self.lp_batch == 'joint':
            return self._embed(torch.cat([xs, xq]), fast)
        return torch.cat([self._embed(xs, fast), self._embed(xq, fast)])

    def pseudo_probs(self, xs, ys, xq, yq, fast) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Query pseudo-label probabilities (Q, N) and, when training with propagation, the LP loss."""
        if self.pseudo_label == 'model':
            return self.query_logits(xq, fast).softmax(1), None
        emb = self.lp_embed(xs, xq, fast)
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
        out = dict(logits=logits, picked=torch.tensor(float(len(idx))),
                   pseudo_correct=(pseudo == yq[idx]).sum().float())
        if self.training:
            out['loss'] = F.cross_entropy(logits, yq)
            if lp_loss is not None:
                out['loss_lp'] = self.lp_weight * lp_loss
        return out

    def loss(self, inputs: dict):
        losses = super().loss(inputs)
        if 'loss_lp' in losses:  # summed into `loss` by parse_losses: keep the query CE under its own name
            losses['loss_query'] = losses.pop('loss')
        # per-task means of the counts -> pooled shares: queries picked, and right among the picked
        picked, correct = losses.pop('picked'), losses.pop('pseudo_correct')
        losses['pick_rate'] = picked / len(inputs['query_label'][0])
        if picked > 0:
            losses['pseudo_acc'] = correct / picked
        return losses


_GP_ARGS = """
    GP args (every knob in the config):
        pseudo_label: ``'propagation'`` (label propagation, the paper) or ``'model'`` (ablation).
        lp_k, lp_alpha: the propagation graph's neighbours (20) and α (0.99).
        lp_weight: weight of the propagation loss in the meta-training loss (1).
        relation: TPN's learned per-sample graph scale σ: ``'conv'`` (the authors' conv net on the feature
            map, unbounded σ), ``'mlp'`` (ours: MLP on the flat embedding, softplus σ > 0) or None (σ = 1).
            ``True`` means ``'conv'``.
        lp_batch: ``'joint'`` (the authors': support ∪ query embedded in one forward, batch norm over the
            whole task) or ``'split'`` (support and query in separate forwards, each normalised by its own
            batch statistics).
        own_encoder: the propagation embeds with its own copy of the backbone instead of the support-adapted
            body θ' (default: True for GP-ANIL, whose body the inner loop does not adapt; False otherwise).
    Other args: :class:`~mmlavit.models.fewshot.MAML`."""


@register('model')
class GPMAML(GPMixin, MAML):
    __doc__ = 'GP-MAML: MAML + adaptive pseudo-labelling of confident queries.' + _GP_ARGS
    default_own_encoder = False

    def __init__(self, backbone: dict, pseudo_label: str = 'propagation', lp_k: int = 20,
                 lp_alpha: float = 0.99, lp_weight: float = 1.0, relation: Union[str, bool, None] = 'conv',
                 lp_batch: str = 'joint',
                 own_encoder: Optional[bool] = None, **kwargs):
        MAML.__init__(self, backbone, **kwargs)
        self._init_gp(backbone, kwargs.get('img_size', 84), kwargs.get('in_channels', 3), pseudo_label, lp_k,
                      lp_alpha, lp_weight, relation, lp_batch,
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
