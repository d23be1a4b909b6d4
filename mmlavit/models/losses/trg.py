"""Token-level relationship graph KD, TRG (Zhang, Liu, He; arXiv 2306.12442).

``L_TRG = α · L_inner + β · L_local + γ · L_global`` (the paper's ``CE + λ·KD`` terms are the student's own
loss and a :class:`KDLoss` in the config).

* tokens: ViT patch tokens ``(B, N, D)`` (N a square number, class token removed) or CNN feature maps
  ``(B, D, H, W)``; student and teacher grids are matched by adaptive average pooling to the smaller one, then
  split into ``patch_size × patch_size`` patches, each one token (the paper splits a CNN's map into fixed-size
  patches): flattened, of dim ``D·p²`` (``patch_mode='flatten'``), or averaged, of dim ``D`` (``'mean'``);
  ``patch_size=1``, the default: each position a token.
* ``L_inner`` (contextual, within each image): ``MSE(softmax(F_S F_Sᵀ/√D_S), softmax(F_T F_Tᵀ/√D_T))`` over
  all tokens of each image.
* graph nodes: ``num_tokens`` tokens sampled per image (the same ones for student and teacher), the
  nodes of the whole batch together.
* ``L_local`` (neighbourhood): Gaussian-kernel k-NN graphs ``A_ij = exp(−‖t_i − t_j‖²/2σ)``, σ = the median
  squared distance (detached); for each node, the distribution over its teacher k-NN (row-wise softmax of the
  adjacency restricted to those neighbours; ``local_norm='sum'``: the adjacency over its row sum) of student
  vs teacher, by ``KL(P_T ‖ P_S)``. The student's graph is built on its own tokens (``local_tokens='raw'``,
  the paper's) or on the projected ones (``'projected'``, ours: the projector can then absorb the match).
  (Our choice: the same neighbour set for both graphs, so that the rows compare the same edges.)
* ``L_global`` (topology): InfoNCE between projected (linear, student dim → teacher dim), L2-normalised
  student nodes and teacher nodes — the positive is the same position, negatives the other sampled nodes —
  at temperature τ, which decays from ``tau_start`` to ``tau_end`` on a cosine as training progresses
  (:meth:`set_progress`, 0 → 1).
* ``graph_reduction``: ``L_local`` and ``L_global`` summed over the V graph nodes (``'sum'``, as the paper's
  summary writes them, the default) or averaged (``'mean'``, ours): ``'sum'`` is ``'mean'`` × V
  (V = batch × ``num_tokens``), i.e. β and γ rescaled with the batch size; the paper's weights are not
  known, and the mean keeps them batch-independent (the shipped leaves set it).

Where a token sits matters: every term compares student and teacher token by token at the same positions,
so tokens must come from a map that carries space (e.g. each position of a CIFAR ResNet's 8×8 last map at
32 px, or an earlier stage's map through the recorder), not one pooled feature.

Not in the paper's readable text (ours, in the config): k = 8, σ = median, 16 tokens per image, τ 0.5 → 0.07.
"""
import math
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmlavit.registry import register

from .warmup import WarmupLoss


def to_token_grid(x: torch.Tensor) -> torch.Tensor:
    """``(B, N, D)`` tokens (N square) or ``(B, D, H, W)`` maps -> ``(B, D, H, W)``."""
    if x.ndim == 4:
        return x
    if x.ndim != 3:
        raise ValueError(f'expected (B, N, D) tokens or (B, D, H, W) maps, got shape {tuple(x.shape)}')
    b, n, d = x.shape
    side = int(round(math.sqrt(n)))
    if side * side != n:
        raise ValueError(f'{n} tokens do not form a square grid: drop the class/distillation tokens or pass '
                         '(B, D, H, W) feature maps')
    return x.transpose(1, 2).reshape(b, d, side, side)


def match_grids(s: torch.Tensor, t: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Pool both ``(B, D, H, W)`` maps to the smaller grid."""
    hw = (min(s.shape[2], t.shape[2]), min(s.shape[3], t.shape[3]))
    return F.adaptive_avg_pool2d(s, hw), F.adaptive_avg_pool2d(t, hw)


def patch_tokens(x: torch.Tensor, patch_size: int = 1, mode: str = 'flatten') -> torch.Tensor:
    """``(B, D, H, W)`` -> one token per non-overlapping ``p × p`` patch: ``'flatten'``
    ``(B, (H/p)·(W/p), D·p²)``, as a ViT patchifies its input; ``'mean'`` ``(B, (H/p)·(W/p), D)``, the
    patch's average (``p = 1``: each position a token)."""
    if patch_size == 1:
        return x.flatten(2).transpose(1, 2)
    h, w = x.shape[2:]
    if h % patch_size or w % patch_size:
        raise ValueError(f'the {h}x{w} token grid does not split into {patch_size}x{patch_size} patches: set '
                         'TRGLoss(patch_size=...) to a divisor of both sides')
    if mode == 'mean':
        return F.avg_pool2d(x, patch_size).flatten(2).transpose(1, 2)
    return F.unfold(x, patch_size, stride=patch_size).transpose(1, 2)


def contextual_loss(fs: torch.Tensor, ft: torch.Tensor, reduction: str = 'element') -> torch.Tensor:
    """``L_inner``: squared differences between per-image token self-similarity maps ``softmax(F Fᵀ/√D)``;
    ``(B, N, D)`` inputs. ``'element'``: the mean over all B·N·N entries (MSE); ``'row'``: summed along
    each token's row (a distribution over the N tokens), averaged over the B·N rows (N times
    ``'element'``)."""
    ps = torch.softmax(fs @ fs.transpose(1, 2) / math.sqrt(fs.shape[-1]), dim=-1)
    pt = torch.softmax(ft @ ft.transpose(1, 2) / math.sqrt(ft.shape[-1]), dim=-1)
    sq = (ps - pt).pow(2)
    return sq.sum(-1).mean() if reduction == 'row' else sq.mean()


def knn_graph(x: torch.Tensor, k: int, neighbours: Optional[torch.Tensor] = None, log: bool = False):
    """Gaussian-kernel k-NN adjacency of nodes ``x`` ``(V, D)``: returns ``(A restricted to the neighbours
    (V, k), neighbour indices (V, k))``; ``log=True`` returns ``log A = −d²/2σ`` instead. ``neighbours``
    reuses a given neighbour set."""
    d2 = torch.cdist(x, x).pow(2)
    off = ~torch.eye(len(x), dtype=torch.bool, device=x.device)
    sigma = d2[off].median().detach().clamp_min(1e-12)
    if neighbours is None:
        neighbours = d2.masked_fill(~off, float('inf')).topk(k, dim=1, largest=False).indices
    log_a = -d2.gather(1, neighbours) / (2 * sigma)
    return (log_a if log else torch.exp(log_a)), neighbours


@register('model')
class TRGLoss(WarmupLoss):
    """See the module docstring. ``forward(student, teacher)`` returns a dict of the three weighted terms
    (``loss_trg_inner``, ``loss_trg_local``, ``loss_trg_global``), so each shows in the log.

    Args:
        student_dim, teacher_dim: token dims (the projector maps student → teacher).
        num_tokens: tokens sampled per image for the graph; k: neighbours; alpha/beta/gamma: weights.
        tau_start, tau_end: InfoNCE temperature schedule endpoints.
        patch_size, patch_mode: side of the patches a token grid is split into and ``'flatten'`` or
            ``'mean'`` (module docstring); the dims above stay the channel dims.
        inner_reduction: ``'element'`` or ``'row'`` (:func:`contextual_loss`); local_norm: ``'softmax'`` or
            ``'sum'`` (module docstring); warmup: fraction of training over which the three terms ramp up
            linearly from 0 (0: no ramp; with a ramp the terms are 0 until :meth:`set_progress` is called).
        local_tokens (str): the student graph of ``L_local`` on ``'raw'`` tokens (the paper's) or
            ``'projected'`` ones (ours). Defaults to ``'raw'``.
        graph_reduction (str): ``L_local`` and ``L_global`` as a ``'sum'`` over the graph's nodes (the
            paper's summary) or a ``'mean'`` (ours). Defaults to ``'sum'``.
    """

    def __init__(self, student_dim: int, teacher_dim: int, num_tokens: int = 16, k: int = 8,
                 alpha: float = 1.0, beta: float = 1.0, gamma: float = 1.0, tau_start: float = 0.5,
                 tau_end: float = 0.07, inner_reduction: str = 'element', local_norm: str = 'softmax',
                 warmup: float = 0.0, patch_size: int = 1, patch_mode: str = 'flatten',
                 local_tokens: str = 'raw', graph_reduction: str = 'sum'):
        super().__init__(warmup)
        if local_tokens not in ('raw', 'projected'):
            raise ValueError(f"local_tokens must be 'raw' or 'projected', got {local_tokens!r}")
        if graph_reduction not in ('mean', 'sum'):
            raise ValueError(f"graph_reduction must be 'mean' or 'sum', got {graph_reduction!r}")
        self.local_tokens, self.graph_reduction = local_tokens, graph_reduction
        if patch_size < 1:
            raise ValueError(f'patch_size must be a positive int, got {patch_size}')
        if patch_mode not in ('flatten', 'mean'):
            raise ValueError(f"patch_mode must be 'flatten' or 'mean', got {patch_mode!r}")
        self.patch_size, self.patch_mode = patch_size, patch_mode
        self.progress = 0.0  # τ starts at tau_start until the distiller reports progress
        if local_norm not in ('softmax', 'sum'):
            raise ValueError(f"local_norm must be 'softmax' or 'sum', got {local_norm!r}")
        self.local_norm = local_norm
        if inner_reduction not in ('row', 'element'):
            raise ValueError(f"inner_reduction must be 'row' or 'element', got {inner_reduction!r}")
        self.inner_reduction = inner_reduction
        grow = patch_size ** 2 if patch_mode == 'flatten' else 1
        self.projector = nn.Linear(student_dim * grow, teacher_dim * grow)
        self.num_tokens, self.k = num_tokens, k
        self.alpha, self.beta, self.gamma = alpha, beta, gamma
        self.tau_start, self.tau_end = tau_start, tau_end

    @property
    def tau(self) -> float:
        c = 0.5 * (1 + math.cos(math.pi * self.progress))
        return self.tau_end + (self.tau_start - self.tau_end) * c

    def sample(self, fs: torch.Tensor, ft: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The same ``num_tokens`` random positions of every image: ``(B·k, D_S)``, ``(B·k, D_T)``."""
        b, n, _ = fs.shape
        m = min(self.num_tokens, n)
        idx = torch.rand(b, n, device=fs.device).argsort(dim=1)[:, :m]
        pick = lambda f: f.gather(1, idx[..., None].expand(-1, -1, f.shape[-1])).flatten(0, 1)  # noqa: E731
        return pick(fs), pick(ft)

    def tokens(self, student: torch.Tensor, teacher: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The per-image tokens the three terms see: ``(B, N, D_S·g)``, ``(B, N, D_T·g)`` (g = p² with
        ``patch_mode='flatten'``, else 1). ``L_inner`` needs N ≥ 2: with one token per image it is 0."""
        fs, ft = (patch_tokens(g, self.patch_size, self.patch_mode)
                  for g in match_grids(to_token_grid(student), to_token_grid(teacher.detach())))
        return fs, ft

    def check_inputs(self, inputs: dict, key: str, where: str) -> None:
        """Called by the distiller before :meth:`forward`: the projector must be sized for the recorded
        features' channels; the error names ``student_dim`` / ``teacher_dim`` under ``key``."""
        st, te = inputs.get('student'), inputs.get('teacher')
        if not (torch.is_tensor(st) and torch.is_tensor(te) and st.ndim == te.ndim and st.ndim in (3, 4)):
            return
        grow = self.patch_size ** 2 if self.patch_mode == 'flatten' else 1
        have = (st.shape[1], te.shape[1]) if st.ndim == 4 else (st.shape[2], te.shape[2])
        want = (self.projector.in_features // grow, self.projector.out_features // grow)
        if have != want:
            raise ValueError(f'{where}: student_dim={want[0]}, teacher_dim={want[1]}, but the recorded '
                             f"student features have {have[0]} channels and the teacher's {have[1]}: "
                             f'set {key}.student_dim={have[0]} and teacher_dim={have[1]}')

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> Dict[str, torch.Tensor]:
        fs, ft = self.tokens(student, teacher)
        inner = contextual_loss(fs, ft, self.inner_reduction)
        ns, nt = self.sample(fs, ft)
        ps = self.projector(ns)
        k = min(self.k, len(nt) - 1)
        # row distributions over the k neighbours: softmax of the affinities A, or A over its row sum
        # (= softmax of log A = −d²/2σ, SNE's neighbour probabilities)
        log = self.local_norm == 'sum'
        a_t, nbr = knn_graph(nt, k, log=log)
        a_s, _ = knn_graph(ps if self.local_tokens == 'projected' else ns, k, nbr, log=log)
        total = self.graph_reduction == 'sum'
        local = F.kl_div(F.log_softmax(a_s, dim=1), F.log_softmax(a_t, dim=1),
                         reduction='sum' if total else 'batchmean', log_target=True)
        logits = F.normalize(ps, dim=1) @ F.normalize(nt, dim=1).t() / self.tau
        glob = F.cross_entropy(logits, torch.arange(len(nt), device=nt.device),
                               reduction='sum' if total else 'mean')
        w = self.ramp
        return dict(loss_trg_inner=w * self.alpha * inner, loss_trg_local=w * self.beta * local,
                    loss_trg_global=w * self.gamma * glob)
