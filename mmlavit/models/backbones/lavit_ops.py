"""Tensor helpers of LaViT (:mod:`mmlavit.models.backbones.lavit`): the maps handed between layers, the
pooling of maps onto the fixed key grid, the local Θ/Ψ maps, and the forms they take while exporting.

Every function here is parameter-free and shape-polymorphic. While ``torch.export`` / ``torch.onnx.export``
trace the model, :func:`_exporting` selects forms that hold for every input size (ONNX has no adaptive
pooling to G×G, needs fixed group counts); they are tested equal to the eager forms, values and gradients
(tests/deployment/test_onnx_export.py). Shapes: maps are ``(B, h, N, M)``, N queries on a ``q_hw`` grid, M
keys on a ``k_hw`` grid.
"""
import warnings
from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F

HW = Tuple[int, int]


def _exporting() -> bool:
    """True while ``torch.export`` / ``torch.onnx.export`` trace the model. Choices between equal forms that
    depend on the input size are then made so that the graph holds for every size (docs/deployment.md)."""
    return torch.compiler.is_exporting() or torch.onnx.is_in_onnx_export()


def _same_grid(a: HW, b: HW) -> bool:
    """``a == b`` for two grids; while exporting, only when it holds for every input size (no guard on the
    example's size: a symbolic side compares equal only to the same expression; a TorchScript-traced size
    never), so that the general path, exact on equal grids too, is the one traced."""
    if not _exporting():
        return tuple(a) == tuple(b)
    from torch.fx.experimental.symbolic_shapes import statically_known_true
    return all(not isinstance(x, torch.Tensor) and not isinstance(y, torch.Tensor)
               and statically_known_true(x == y) for x, y in zip(a, b))


def _example_int(v) -> int:
    """A size as a Python int without specialising an export to it: the example's value of a symbolic or
    TorchScript-traced size. Only for choices between equal forms that change speed, never values."""
    if isinstance(v, torch.SymInt):
        from torch.fx.experimental.symbolic_shapes import optimization_hint
        return optimization_hint(v)
    if isinstance(v, torch.Tensor):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # TracerWarning: the int is not recorded in the graph
            return int(v)
    return v


class ScoreMap(NamedTuple):
    """An attention map handed along the LA chain: ``scores`` (B, h, N, M) over a ``q_hw`` query grid and
    a ``k_hw`` key grid."""
    scores: torch.Tensor
    q_hw: HW
    k_hw: HW


class Residual(NamedTuple):
    """Residual scores for a VA layer in factored form: the dense residual is ``factor @ basisᵀ``.

    ``factor``: (B, h, N, G) on the source key grid (G keys); ``basis``: (M, G), the linear resampling of
    the source key grid onto this layer's M keys, or ``None`` when the grids agree (the residual is
    ``factor`` itself).
    """
    factor: torch.Tensor
    basis: Optional[torch.Tensor]


def pool_keys(t: torch.Tensor, hw: HW, grid: HW) -> torch.Tensor:
    """Average ``t`` (B, h, N, M) over its key grid ``hw`` onto ``grid``: (B, h, N, G²). Identity when the
    grids agree (LaViT at 224², where every stage has 7×7 keys)."""
    if _same_grid(hw, grid):
        return t
    b, h, n, _ = t.shape
    if _exporting():  # the same bins as two separable products (ONNX has no adaptive pooling to G×G)
        x = t.reshape(b, h, n, hw[0], hw[1]) @ _bin_matrix(hw[1], grid[1], t).t()  # (B, h, N, Hk, Gw)
        return (_bin_matrix(hw[0], grid[0], t) @ x).reshape(b, h, n, grid[0] * grid[1])
    return F.adaptive_avg_pool2d(t.reshape(b * h, n, *hw), grid).reshape(b, h, n, -1)


def _bin_matrix(n: int, g: int, ref: torch.Tensor) -> torch.Tensor:
    """(g, n): row i averages the i-th of the g adaptive-pooling bins of n cells (``adaptive_avg_pool``'s
    bins: ``[⌊i·n/g⌋, ⌈(i+1)·n/g⌉)``)."""
    i = torch.arange(g, device=ref.device)
    start, end = (i * n) // g, ((i + 1) * n + g - 1) // g  # ⌈·⌉ without negative floor division (ONNX)
    j = torch.arange(n, device=ref.device)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return inside.to(ref.dtype) / (end - start)[:, None].to(ref.dtype)


def _pool_matrix(hw: HW, grid: HW, ref: torch.Tensor) -> torch.Tensor:
    """(G², M): :func:`pool_rows` of the M×M identity (row g averages the keys of bin g), built as the outer
    product of the two bin matrices, which is what that pooling computes entry by entry."""
    if _same_grid(hw, grid):
        return torch.eye(hw[0] * hw[1], dtype=ref.dtype, device=ref.device)
    ph, pw = _bin_matrix(hw[0], grid[0], ref), _bin_matrix(hw[1], grid[1], ref)
    return (ph[:, None, :, None] * pw[None, :, None, :]).reshape(grid[0] * grid[1], hw[0] * hw[1])


def _fold_projection(n: int, m: int, h: int, c: int) -> bool:
    """Whether folding the output projection into the values costs fewer multiply-adds (see ``_attend``)."""
    return m * c + n * h * m < n * (m + c)


def pool_rows(t: torch.Tensor, hw: HW, grid: HW) -> torch.Tensor:
    """Average the rows of ``t`` (..., M, r), M on grid ``hw``, onto ``grid``: (..., G², r), with
    ``adaptive_avg_pool2d``'s bins, as two separable products on views of ``t`` (backward keeps no permuted
    copy of it). Because pooling is linear, ``pool_keys(q @ kᵀ) == q @ pool_rows(k)ᵀ``."""
    if _same_grid(hw, grid):
        return t
    lead, r = t.shape[:-2], t.shape[-1]
    ph, pw = _bin_matrix(hw[0], grid[0], t), _bin_matrix(hw[1], grid[1], t)
    if _exporting():  # columns first: no reshape splits a dimension (W·r) whose size is symbolic
        x = pw @ t.reshape(*lead, hw[0], hw[1], r)  # (..., H, Gw, r)
        x = ph @ x.reshape(*lead, hw[0], grid[1] * r)  # (..., Gh, Gw·r)
        return x.reshape(*lead, grid[0] * grid[1], r)
    x = ph @ t.reshape(*lead, hw[0], hw[1] * r)  # (..., Gh, W·r)
    x = pw @ x.reshape(*lead, grid[0], hw[1], r)  # (..., Gh, Gw, r)
    return x.reshape(*lead, grid[0] * grid[1], r)


def pool_queries(attn: torch.Tensor, q_hw: HW, grid: HW) -> torch.Tensor:
    """:func:`pool_rows` over the query rows of ``attn`` (B, h, N, M), N on grid ``q_hw``: (B, h, G, M). A
    map stored (B, N, h, M) (see :func:`_softmax_keys`) is pooled in that layout, without a transposing
    copy."""
    b, h, n, m = attn.shape
    if h > 1 and attn.transpose(1, 2).is_contiguous():
        pooled = pool_rows(attn.transpose(1, 2).reshape(b, n, h * m), q_hw, grid)  # (B, G, h·M)
        return pooled.reshape(b, -1, h, m).transpose(1, 2)
    return pool_rows(attn, q_hw, grid)


def query_conv(scores: torch.Tensor, weight: torch.Tensor, q_hw: HW) -> torch.Tensor:
    """Ψ as a local map over the query grid: a per-head k×k cross-correlation (``weight`` (h, 1, k, k),
    zero padding) applied to each key's column of queries seen as a ``q_hw`` image. (B, h, N, M) -> same.

    Runs as one depth-wise ``conv2d`` with h·M channels in channels-last layout (a free view of the map
    for h = 1) instead of k² shifted multiply-adds (docs/lavit_design.md, "Fast paths"). While exporting,
    the keys go to the batch instead (h channels): ONNX needs the kernel and the group count fixed, and M
    varies with the input size.
    """
    b, h, n, m = scores.shape
    k = weight.shape[-1]
    if _exporting():
        x = scores.permute(0, 3, 1, 2).reshape(b * m, h, *q_hw)  # (B·M, h, Hq, Wq)
        y = F.conv2d(x, weight.to(x.dtype), padding=k // 2, groups=h)
        return y.reshape(b, m, h, n).permute(0, 2, 3, 1)
    if h == 1:
        x = scores.reshape(b, *q_hw, m).permute(0, 3, 1, 2)
    else:
        x = scores.reshape(b, h, *q_hw, m).permute(0, 2, 3, 1, 4).reshape(b, *q_hw, h * m).permute(0, 3, 1, 2)
    w = weight.reshape(h, 1, 1, k, k).expand(h, m, 1, k, k).reshape(h * m, 1, k, k)
    y = F.conv2d(x, w.to(x.dtype), padding=k // 2, groups=h * m).permute(0, 2, 3, 1)  # (B, Hq, Wq, h·M)
    if h == 1:
        return y.reshape(b, 1, n, m)
    return y.reshape(b, n, h, m).transpose(1, 2)


def key_conv(scores: torch.Tensor, weight: torch.Tensor, k_hw: HW) -> torch.Tensor:
    """Θ as a local map over the key grid (``la_transform='conv'``): each query's row of keys seen as a
    ``k_hw`` image, a per-head k×k cross-correlation. (B, h, N, M) -> same."""
    b, h, n, m = scores.shape
    k = weight.shape[-1]
    x = scores.permute(0, 2, 1, 3).reshape(b * n, h, *k_hw)
    y = F.conv2d(x, weight.to(x.dtype), padding=k // 2, groups=h)
    return y.reshape(b, n, h, m).permute(0, 2, 1, 3)


def _delta_kernel(heads: int, k: int) -> torch.Tensor:
    w = torch.zeros(heads, 1, k, k)
    w[:, :, k // 2, k // 2] = 1.
    return w


def _softmax_keys(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the keys of ``scores`` (B, h, N, M), kept in its memory layout: :func:`query_conv`
    leaves (B, N, h, M) in memory, which the folded value product reads without a transposing copy."""
    if scores.shape[1] > 1 and not _exporting() and scores.transpose(1, 2).is_contiguous():
        return scores.transpose(1, 2).softmax(dim=-1).transpose(1, 2)
    return scores.softmax(dim=-1)


def diagonality_loss(attn: torch.Tensor, q_hw: HW, k_hw: HW) -> torch.Tensor:
    """Diagonality-preserving loss of softmax-normalised attention maps (our bounded form).

    ``attn``: (B, h, N, M), rows sum to 1, queries on a (Hq, Wq) grid, keys on a (Hk, Wk) grid. When the
    grids differ, queries are average-pooled onto the key grid, giving a row-stochastic ``P`` (M×M) whose
    row i is "what the tokens of key cell i attend to". Then

        L_sym  = Σ_ij (P_ij − P_ji)² / M                   (token relations symmetric)
        L_diag = Σ_i relu(max_{j≠i} P_ij − P_ii) / M       (each token attends most to itself)
        L_dp   = mean over batch and heads of (L_sym + L_diag)  ∈ [0, 3]

    Both terms are zero for the identity map and bounded, unlike a loss on raw scores.
    """
    m = attn.shape[-1]
    p = attn if (q_hw[0], q_hw[1]) == (k_hw[0], k_hw[1]) else pool_queries(attn, q_hw, k_hw)
    sym = (p - p.transpose(-1, -2)).pow(2).sum(dim=(-1, -2)) / m
    diag = torch.diagonal(p, dim1=-2, dim2=-1)
    eye = torch.eye(m, dtype=torch.bool, device=p.device)
    off_max = p.masked_fill(eye, float('-inf')).amax(dim=-1) if m > 1 else torch.zeros_like(diag)
    dom = F.relu(off_max - diag).sum(dim=-1) / m
    return (sym + dom).mean()
