"""LaViT: "You Only Need Less Attention at Each Stage in Vision Transformers" (Zhang et al., CVPR 2024).

A 4-stage pyramid ViT (the PVTv2 skeleton). In each stage the first ``num_va`` layers compute vanilla
attention (VA); the remaining less-attention (LA) layers compute no Q and no K: they transform the
previous layer's attention map, ``A_l = Ψ · A_{l-1} · Θᵀ``, and apply ``softmax(A_l)`` to their own
values. The last map of a stage is carried into the next stage's first attention by residual attention
downsampling; a diagonality-preserving (DP) loss on the LA maps is returned by :meth:`LaViT.pop_aux_losses`.

Which parts are the paper's and which are ours, the forms of Θ/Ψ, and the fast paths (why the outputs
are those of the plain formulas): ``docs/lavit_design.md``; the equations: ``docs/references.md``.

Shapes: input ``(B, 3, H, W)``; stage ``i`` outputs ``(B, C_i, ⌈H/2^(i+2)⌉, ⌈W/2^(i+2)⌉)``; attention maps
are ``(B, heads, N, M)`` with N query tokens and M keys.
"""
import math
import re
import warnings
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import constant_init, normal_init, trunc_normal_init

from mmlavit.registry import register

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
    for h = 1): 10-20× faster than the k² shifted multiply-adds it replaces, 20-190× in backward. While
    exporting, the keys go to the batch instead (h channels): ONNX needs the kernel and the group count
    fixed, and M varies with the input size.
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


class OverlapPatchEmbed(nn.Module):
    """Strided conv + norm: ``(B, C_in, H, W) -> (B, N, C), (H', W')``.

    Args:
        in_channels (int): Input channels.
        embed_dim (int): Output channels C.
        patch_size (int): Conv kernel size (padding ``patch_size // 2``).
        stride (int): Conv stride.
        norm_cfg (dict): Norm layer config. Defaults to ``dict(type='LN')``.
    """

    def __init__(self, in_channels: int, embed_dim: int, patch_size: int, stride: int,
                 norm_cfg: dict = dict(type='LN')):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dim, patch_size, stride, patch_size // 2)
        self.norm = build_norm_layer(norm_cfg, embed_dim)[1]

    def forward(self, x):
        x = self.proj(x)
        hw = x.shape[2:]
        return self.norm(x.flatten(2).transpose(1, 2)), (hw[0], hw[1])  # symbolic sizes stay so (export)


class DWConvFFN(nn.Module):
    """PVTv2 feed-forward: fc -> 3×3 depth-wise conv -> GELU -> fc. ``(B, N, C) -> (B, N, C)``.

    Args:
        dim (int): Token channels C.
        hidden (int): Hidden channels.
        drop (float): Dropout after the activation and the last fc. Defaults to 0.
    """

    def __init__(self, dim: int, hidden: int, drop: float = 0., with_cp: bool = False):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)
        self.with_cp = with_cp  # keep only the input; recompute the three hidden maps in backward

    def _hidden(self, x):  # (B, C, H, W) channels-last view -> same
        x = F.conv2d(x, self.fc1.weight[:, :, None, None], self.fc1.bias)
        x = self.drop(self.act(self.dwconv(x)))
        return F.conv2d(x, self.fc2.weight[:, :, None, None], self.fc2.bias)

    def forward(self, x, hw: HW):
        b, n, c = x.shape
        # the (B, N, C) tokens seen as a channels-last (B, C, H, W) view (no transposing copies), and fc1/fc2
        # run as 1×1 convolutions on it with the same weights: oneDNN's kernels with the bias fused are
        # 1.2-1.8× faster than addmm over the token matrix on CPU, forward and backward (docs/benchmarks.md)
        x = x.reshape(b, *hw, c).permute(0, 3, 1, 2)
        if self.with_cp and x.requires_grad:
            x = cp.checkpoint(self._hidden, x, use_reentrant=False)
        else:
            x = self._hidden(x)
        return self.drop(x.permute(0, 2, 3, 1).reshape(b, n, c))


class LaViTAttention(nn.Module):
    """Spatial-reduction attention, vanilla (VA) or less-attention (LA).

    * ``mode='va'``: ``A = QKᵀ/√d (+ residual)``, output ``softmax(A)·V``.
    * ``mode='la'``: no Q, no K; ``A = Ψ·prev·Θᵀ``, output ``softmax(A)·V``.

    Args:
        dim (int): Token channels C.
        num_heads (int): Attention heads h.
        sr_ratio (int): Spatial reduction of the key/value grid (a strided conv + norm). Defaults to 1.
        mode (str): ``'va'`` or ``'la'``. Defaults to ``'va'``.
        la_transform (str): Form of Θ/Ψ in LA mode: ``'pooled'``, ``'conv'`` or ``'full'`` (see
            :class:`LaViT`). Defaults to ``'pooled'``.
        transform_kernel (int): Kernel of the local Θ/Ψ maps. Defaults to 3.
        key_grid (int): Side G of the ``'pooled'`` key grid. Defaults to 7.
        full_tokens (tuple[int, int], optional): (N, M) of the dense ``'full'`` matrices. Defaults to None.
        qkv_bias (bool): Bias of the Q/K/V projections. Defaults to True.
        attn_drop (float): Dropout on the softmax map. Defaults to 0.
        proj_drop (float): Dropout after the output projection. Defaults to 0.
        norm_cfg (dict): Norm after the spatial reduction. Defaults to ``dict(type='LN')``.
    """

    def __init__(self, dim: int, num_heads: int, sr_ratio: int = 1, mode: str = 'va',
                 la_transform: str = 'pooled', transform_kernel: int = 3, key_grid: int = 7,
                 full_tokens: Optional[Tuple[int, int]] = None, qkv_bias: bool = True,
                 attn_drop: float = 0., proj_drop: float = 0., norm_cfg: dict = dict(type='LN')):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} must be divisible by num_heads {num_heads}')
        if mode not in ('va', 'la'):
            raise ValueError(f"mode must be 'va' or 'la', got {mode!r}")
        self.dim, self.num_heads, self.mode = dim, num_heads, mode
        self.scale = (dim // num_heads) ** -0.5
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, sr_ratio, sr_ratio)
            self.norm = build_norm_layer(norm_cfg, dim)[1]
        self.la_transform = la_transform
        self.key_grid = (key_grid, key_grid)
        if mode == 'va':
            self.q = nn.Linear(dim, dim, bias=qkv_bias)
            self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        else:
            self.v = nn.Linear(dim, dim, bias=qkv_bias)
            if la_transform == 'pooled':
                g2 = key_grid * key_grid
                self.theta = nn.Parameter(torch.eye(g2).repeat(num_heads, 1, 1))
                self.psi = nn.Parameter(_delta_kernel(num_heads, transform_kernel))
            elif la_transform == 'conv':
                self.theta = nn.Parameter(_delta_kernel(num_heads, transform_kernel))
                self.psi = nn.Parameter(_delta_kernel(num_heads, transform_kernel))
            elif la_transform == 'full':
                if full_tokens is None:
                    raise ValueError("la_transform='full' needs a fixed img_size (the dense N×N and M×M "
                                     'matrices depend on the token counts)')
                n, m = full_tokens
                self.theta = nn.Parameter(torch.eye(m).repeat(num_heads, 1, 1))
                self.psi = nn.Parameter(torch.eye(n).repeat(num_heads, 1, 1))
            else:
                raise ValueError(f"la_transform must be 'pooled', 'conv' or 'full', got {la_transform!r}")
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def key_hw(self, hw: HW) -> HW:
        """The key grid of this layer's spatial reduction for a query grid ``hw``."""
        r = self.sr_ratio
        # the strided conv's output size, ⌊(s − r)/r⌋ + 1 (= ⌊s/r⌋), in the form its shape takes under export
        return ((hw[0] - r) // r + 1, (hw[1] - r) // r + 1) if r > 1 else (hw[0], hw[1])

    def _reduce(self, x, hw: HW):
        if self.sr_ratio == 1:
            return x, (hw[0], hw[1])
        b, n, c = x.shape
        x = self.sr(x.reshape(b, *hw, c).permute(0, 3, 1, 2))  # channels-last view, as in DWConvFFN
        k_hw = (x.shape[2], x.shape[3])
        return self.norm(x.permute(0, 2, 3, 1).flatten(1, 2)), k_hw

    def _heads(self, t):  # (B, L, C) -> (B, h, L, d)
        b, l, _ = t.shape
        return t.reshape(b, l, self.num_heads, self.dim // self.num_heads).transpose(1, 2)

    def transform(self, prev: torch.Tensor, q_hw: HW, k_hw: HW) -> torch.Tensor:
        """The LA map transformation ``Ψ · prev · Θᵀ``. ``'pooled'``: ``prev`` (B, h, N, M) on key grid
        ``k_hw`` -> (B, h, N, G²) on the fixed key grid; ``'conv'`` / ``'full'``: (B, h, N, M) -> same."""
        if self.la_transform == 'pooled':
            a = pool_keys(prev, k_hw, self.key_grid) @ self.theta.transpose(-1, -2).to(prev.dtype)  # dense Θ
            return query_conv(a, self.psi, q_hw)  # Ψ: local k×k over the query grid
        if self.la_transform == 'conv':
            return query_conv(key_conv(prev, self.theta, k_hw), self.psi, q_hw)
        n, m = prev.shape[-2:]
        if isinstance(n, torch.SymInt) or isinstance(m, torch.SymInt):  # torch.export with dynamic shapes
            raise ValueError("la_transform='full' holds dense N×N and M×M matrices for one input size "
                             f'({self.psi.shape[-1]} queries, {self.theta.shape[-1]} keys) and cannot be '
                             'exported with a dynamic input size: export it at the img_size it was built for '
                             "without dynamic shapes, or use la_transform='pooled' or 'conv'")
        if self.psi.shape[-1] != n or self.theta.shape[-1] != m:
            raise ValueError(f"la_transform='full' was built for {self.psi.shape[-1]} queries and "
                             f'{self.theta.shape[-1]} keys but got {n} and {m}: use the img_size it was '
                             "built for or la_transform='conv'")
        return self.psi.to(prev.dtype) @ prev @ self.theta.transpose(-1, -2).to(prev.dtype)

    def _attend(self, attn: torch.Tensor, v: torch.Tensor, shape) -> torch.Tensor:
        """``proj(softmax-map · V)``. Where it costs fewer multiply-adds (M·C² + N·h·M·C against
        N·M·C + N·C²: many queries over few keys, the LA layers at high resolution) the projection is
        folded into the values, ``Σ_h A_h (V_h W_hᵀ) + b``: the same sum."""
        attn = self.attn_drop(attn)
        b, h, n, m = attn.shape
        c = self.dim
        if _fold_projection(_example_int(n), _example_int(m), h, c):
            w = self.proj.weight.reshape(c, h, -1)  # W_h: columns of head h
            vw = torch.einsum('bhmd,chd->bhmc', v, w.to(v.dtype)).reshape(b, h * m, c)
            a = attn.reshape(b, n, m) if h == 1 else attn.transpose(1, 2).reshape(b, n, h * m)
            out = torch.baddbmm(self.proj.bias.to(v.dtype).expand(b, n, c), a, vw)
        else:
            out = self.proj((attn @ v).transpose(1, 2).reshape(shape))
        return self.proj_drop(out)

    def forward(self, x: torch.Tensor, hw: HW, prev: Optional[ScoreMap] = None,
                residual: Optional[Residual] = None, chain: Optional[str] = None,
                chain_softmax: bool = True, need_attn: bool = False):
        """
        Args:
            x (Tensor): (B, N, C) tokens on the ``hw`` grid.
            hw (tuple[int, int]): Query grid.
            prev (ScoreMap, optional): The previous layer's map (LA mode only).
            residual (Residual, optional): Residual scores of the previous stage (VA mode only).
            chain (str, optional): The map the next consumer needs: ``None``, ``'pooled'`` (on the fixed
                G×G key grid) or ``'full'``. Defaults to None.
            chain_softmax (bool): Hand on the VA layer's softmax map (the paper's chain) instead of its
                scores (ours). Defaults to True.
            need_attn (bool): Also return the softmax map of a VA layer. Defaults to False.

        Returns:
            tuple: output (B, N, C); the chain map (:class:`ScoreMap` or None); the softmax map (B, h, N, M)
            (LA layers always, VA layers when ``need_attn``, else None); the layer's key grid.
        """
        kv_in, k_hw = self._reduce(x, hw)
        if self.mode == 'la':
            if prev is None:
                raise RuntimeError("a less-attention layer needs the previous layer's map")
            scores = self.transform(prev.scores, hw, prev.k_hw)
            if self.la_transform == 'pooled':  # values on the same fixed key grid as the transformed map
                kv_in = pool_rows(kv_in, k_hw, self.key_grid)
                k_hw = self.key_grid
            attn = _softmax_keys(scores)
            out = self._attend(attn, self._heads(self.v(kv_in)), x.shape)
            return out, ScoreMap(scores, hw, k_hw) if chain else None, attn, k_hw

        q = self._heads(self.q(x))
        k, v = (self._heads(t) for t in self.kv(kv_in).chunk(2, dim=-1))
        pooled_free = chain == 'pooled' and _same_grid(k_hw, self.key_grid)
        dense_residual = residual is not None and residual.basis is None
        dropping = self.training and self.attn_drop.p > 0
        # the paper's chain needs the dense softmax map only for a full map, or a pooled one under dropout
        softmax_dense = chain_softmax and (chain == 'full' or (chain == 'pooled' and dropping))
        if need_attn or softmax_dense or chain == 'full' or pooled_free or dense_residual:
            # explicit: the dense map is needed, is itself the pooled chain map (7×7 keys), or its residual
            # is already dense
            scores = (q * self.scale) @ k.transpose(-1, -2)
            if residual is not None:
                r = residual.factor if residual.basis is None else residual.factor @ residual.basis.t()
                scores = scores + r
            attn = scores.softmax(dim=-1)
            out = self._attend(attn, v, x.shape)
            kept = attn if chain_softmax else scores
            if chain == 'pooled':
                kept = pool_keys(kept, k_hw, self.key_grid)
                return out, ScoreMap(kept, hw, self.key_grid), attn if need_attn else None, k_hw
            return out, ScoreMap(kept, hw, k_hw) if chain else None, attn if need_attn else None, k_hw
        # fused: the residual as extra features, [q/√d, R]·[k, U]ᵀ = QKᵀ/√d + R·Uᵀ, through the
        # memory-efficient scaled_dot_product_attention; the N×M map is never stored
        qf, kf = q * self.scale, k
        if residual is not None:
            b, h, m = k.shape[0], k.shape[1], k.shape[2]
            qf = torch.cat([qf, residual.factor.to(q.dtype)], dim=-1)
            kf = torch.cat([kf, residual.basis.to(k.dtype).expand(b, h, m, residual.basis.shape[1])], dim=-1)
        d, vf = v.shape[-1], v
        if chain == 'pooled' and chain_softmax:
            # the paper's chain: pool_keys(softmax(S)) = softmax(S)·Pᵀ, the pooling matrix P as extra values
            b, h, m = v.shape[:3]
            pool_t = _pool_matrix(k_hw, self.key_grid, v).t()
            vf = torch.cat([v, pool_t.expand(b, h, m, pool_t.shape[1])], dim=-1)
        width = max(qf.shape[-1], vf.shape[-1])  # equal widths keep the fused kernel
        qf_, kf_ = (F.pad(t, (0, width - t.shape[-1])) for t in (qf, kf))
        vf = F.pad(vf, (0, width - vf.shape[-1]))
        drop = self.attn_drop.p if self.training else 0.
        o = F.scaled_dot_product_attention(qf_, kf_, vf, dropout_p=drop, scale=1.)
        out = self.proj_drop(self.proj(o[..., :d].transpose(1, 2).reshape(x.shape)))
        kept = None
        if chain == 'pooled' and chain_softmax:
            kept = ScoreMap(o[..., d:d + self.key_grid[0] * self.key_grid[1]], hw, self.key_grid)
        elif chain == 'pooled':  # pool_keys(qf·kfᵀ) = qf·pool_rows(kf)ᵀ
            kept = ScoreMap(qf @ pool_rows(kf, k_hw, self.key_grid).transpose(-1, -2), hw, self.key_grid)
        return out, kept, None, k_hw


class LaViTBlock(nn.Module):
    """Pre-norm transformer layer: attention (VA or LA) + depth-wise-conv FFN, with drop path.

    Args:
        dim (int): Token channels.
        num_heads (int): Attention heads.
        mlp_ratio (float): FFN hidden width over ``dim``.
        sr_ratio (int): Spatial reduction of keys/values.
        mode (str): ``'va'`` or ``'la'``.
        drop_path (float): Stochastic depth rate. Defaults to 0.
        drop (float): Dropout in the FFN and after the attention projection. Defaults to 0.
        norm_cfg (dict): Norm layers. Defaults to ``dict(type='LN')``.
        ffn_cp (bool): Checkpoint the FFN's hidden maps (``with_cp='ffn'`` of :class:`LaViT`). Defaults to
            False.
        **attn_kw: Further :class:`LaViTAttention` arguments.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, sr_ratio: int, mode: str,
                 drop_path: float = 0., drop: float = 0., norm_cfg: dict = dict(type='LN'),
                 ffn_cp: bool = False, **attn_kw):
        super().__init__()
        self.mode = mode
        self.norm1 = build_norm_layer(norm_cfg, dim)[1]
        self.attn = LaViTAttention(dim, num_heads, sr_ratio, mode, proj_drop=drop, norm_cfg=norm_cfg,
                                   **attn_kw)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = build_norm_layer(norm_cfg, dim)[1]
        self.mlp = DWConvFFN(dim, int(dim * mlp_ratio), drop, with_cp=ffn_cp)

    def forward(self, x, hw: HW, prev=None, residual=None, chain=None, chain_softmax=True, need_attn=False):
        y, kept, attn, k_hw = self.attn(self.norm1(x), hw, prev, residual, chain, chain_softmax, need_attn)
        x = x + self.drop_path(y)
        x = x + self.drop_path(self.mlp(self.norm2(x), hw))
        return x, kept, attn, k_hw


class ResidualAttentionDownsample(nn.Module):
    """Carry the last map of a stage into the next stage's first attention (ours; the paper's operator is
    not public).

    A strided k×k depth-wise conv over each head's query grid, a 1×1 head mixing when the head count
    changes, bilinear resampling of the query grid where its size is off by rounding and of the key grid
    when its size changes, times a learned scale. The key resampling is returned as a basis
    (:class:`Residual`) instead of being applied: it is linear with rows summing to 1, so the VA layer
    can use it in factored form.

    Args:
        heads_in (int): Heads of the incoming map.
        heads_out (int): Heads of the next stage.
        kernel (int): Kernel of the strided depth-wise conv. Defaults to 3.
        init_scale (float): Initial value of the learned scale. Defaults to 0.1.
    """

    def __init__(self, heads_in: int, heads_out: int, kernel: int = 3, init_scale: float = 0.1):
        super().__init__()
        self.down = nn.Conv2d(heads_in, heads_in, kernel, 2, kernel // 2, groups=heads_in)
        self.mix = nn.Conv2d(heads_in, heads_out, 1) if heads_in != heads_out else nn.Identity()
        self.scale = nn.Parameter(torch.tensor(float(init_scale)))

    @staticmethod
    def key_basis(k_hw: HW, new_k_hw: HW, ref: torch.Tensor) -> torch.Tensor:
        """(M', M): bilinear resampling (align_corners=False) from the ``k_hw`` key grid to ``new_k_hw``."""
        m = k_hw[0] * k_hw[1]
        eye = torch.eye(m, dtype=ref.dtype, device=ref.device).reshape(m, 1, *k_hw)
        out = F.interpolate(eye, size=new_k_hw, mode='bilinear', align_corners=False)
        return out.reshape(m, new_k_hw[0] * new_k_hw[1]).t()

    def _down_mix_channels_last(self, scores: torch.Tensor, q_hw: HW) -> torch.Tensor:
        """``mix(down(·))`` of every key's (h, Hq, Wq) map at once: the keys as channel groups of one
        channels-last map (channels key-major, head-minor), the depth-wise conv with its kernel repeated per
        key and the 1×1 head mixing as a grouped conv, one group per key. The same sums as the keys-in-the-
        batch form (1-5 channels per image), about 10× faster forward and backward at 800×1344 on CPU
        (docs/benchmarks.md). (B, h, N, M) -> (B·M, h2, Hq', Wq')."""
        b, h, n, m = scores.shape
        x = scores.reshape(b, h, *q_hw, m).permute(0, 2, 3, 4, 1).reshape(b, *q_hw, m * h)
        k = self.down.kernel_size[0]
        w = self.down.weight.reshape(1, h, 1, k, k).expand(m, h, 1, k, k).reshape(m * h, 1, k, k)
        x = F.conv2d(x.permute(0, 3, 1, 2), w.to(x.dtype), self.down.bias.to(x.dtype).repeat(m),
                     self.down.stride, self.down.padding, groups=m * h)
        if isinstance(self.mix, nn.Conv2d):
            mix_w, mix_b = self.mix.weight.to(x.dtype).repeat(m, 1, 1, 1), self.mix.bias.to(x.dtype).repeat(m)
            x = F.conv2d(x, mix_w, mix_b, groups=m)
        return x.reshape(b * m, -1, *x.shape[-2:])

    def forward(self, prev: ScoreMap, new_q_hw: HW, new_k_hw: HW) -> Residual:
        scores, q_hw, k_hw = prev
        b, h, n, m = scores.shape
        if _exporting():  # keys in the batch: ONNX needs the group count fixed, and M varies with the input
            x = scores.permute(0, 3, 1, 2).reshape(b * m, h, *q_hw)
            x = self.mix(self.down(x))
        else:
            x = self._down_mix_channels_last(scores, q_hw)
        if not _same_grid(x.shape[-2:], new_q_hw):
            x = F.interpolate(x, size=new_q_hw, mode='bilinear', align_corners=False)
        h2 = x.shape[1]
        factor = self.scale * x.flatten(2).reshape(b, m, h2, -1).permute(0, 2, 3, 1)  # (B, h2, N', M)
        basis = None if _same_grid(k_hw, new_k_hw) else self.key_basis(k_hw, new_k_hw, scores)
        return Residual(factor, basis)


class LaViTStage(BaseModule):
    """One LaViT stage: the incoming residual attention downsample, patch embedding, VA then LA blocks,
    and the output norm (as timm's ``PyramidVisionTransformerStage``).

    Args:
        in_channels (int): Channels of the incoming feature map.
        embed_dim (int): Token channels of this stage.
        depth (int): Number of blocks.
        num_heads (int): Attention heads.
        mlp_ratio (float): FFN hidden width over ``embed_dim``.
        sr_ratio (int): Spatial reduction of keys/values.
        num_va (int): The first ``num_va`` blocks compute vanilla attention, the rest are LA blocks.
        patch_size (int): Patch embedding kernel. Defaults to 3.
        stride (int): Patch embedding stride. Defaults to 2.
        heads_in (int, optional): Heads of the previous stage: builds the residual attention downsample
            (``None``: first stage or residual attention off). Defaults to None.
        drop_path (Sequence[float]): Stochastic depth rate of each block. Defaults to zeros.
        chain_softmax (bool): The paper's chain (VA hands on its softmax map); False: ours (its
            scores). Defaults to True.
        norm_cfg (dict): Norm layers. Defaults to ``dict(type='LN')``.
        with_cp (bool | str): Activation checkpointing: ``True`` / ``'block'`` per block, ``'ffn'`` the FFNs'
            hidden maps only (see :class:`LaViT`). Defaults to False.
        **block_kw: Further :class:`LaViTBlock` / :class:`LaViTAttention` arguments.
    """

    def __init__(self, in_channels: int, embed_dim: int, depth: int, num_heads: int, mlp_ratio: float,
                 sr_ratio: int, num_va: int, patch_size: int = 3, stride: int = 2,
                 heads_in: Optional[int] = None, drop_path: Optional[Sequence[float]] = None,
                 chain_softmax: bool = True, norm_cfg: dict = dict(type='LN'),
                 with_cp: Union[bool, str] = False, **block_kw):
        super().__init__()
        if with_cp not in (False, True, 'block', 'ffn'):
            raise ValueError(f"with_cp must be False, True / 'block' or 'ffn', got {with_cp!r}")
        drop_path = [0.] * depth if drop_path is None else list(drop_path)
        self.attn_downsample = ResidualAttentionDownsample(heads_in, num_heads) if heads_in else None
        self.patch_embed = OverlapPatchEmbed(in_channels, embed_dim, patch_size, stride, norm_cfg)
        self.blocks = ModuleList([
            LaViTBlock(embed_dim, num_heads, mlp_ratio, sr_ratio, 'va' if j < num_va else 'la', drop_path[j],
                       norm_cfg=norm_cfg, ffn_cp=with_cp == 'ffn', **block_kw) for j in range(depth)])
        self.norm = build_norm_layer(norm_cfg, embed_dim)[1]
        self.chain_softmax = chain_softmax
        self.with_cp = with_cp in (True, 'block')  # per block; 'ffn' lives in the blocks' FFNs

    def _chain(self, j: int, carry_out: bool) -> Optional[str]:
        """What block ``j``'s consumer needs: the next LA block, or (last block) the next stage."""
        nxt = self.blocks[j + 1] if j + 1 < len(self.blocks) else None
        if nxt is not None:
            if nxt.mode == 'va':
                return None
            return 'pooled' if nxt.attn.la_transform == 'pooled' else 'full'
        return 'full' if carry_out else None

    def forward(self, x: torch.Tensor, carry: Optional[ScoreMap] = None, carry_out: bool = False,
                need_attn: bool = False):
        """
        Args:
            x (Tensor): (B, C_in, H, W).
            carry (ScoreMap, optional): Last map of the previous stage. Defaults to None.
            carry_out (bool): Return this stage's last map for the next stage. Defaults to False.
            need_attn (bool): Return every block's softmax map. Defaults to False.

        Returns:
            tuple: (B, C, H', W') features; this stage's last map (or None); the LA blocks' softmax maps
            with their grids ``(attn, q_hw, k_hw)`` (for the DP loss); every block's softmax map if
            ``need_attn``.
        """
        b = x.shape[0]
        x, hw = self.patch_embed(x)
        residual = None
        if carry is not None and self.attn_downsample is not None:
            residual = self.attn_downsample(carry, hw, self.blocks[0].attn.key_hw(hw))
        prev, la_maps, maps = None, [], []
        for j, blk in enumerate(self.blocks):
            args = (x, hw, prev, residual if j == 0 else None, self._chain(j, carry_out), self.chain_softmax,
                    need_attn)
            if self.with_cp and x.requires_grad:
                x, prev, attn, k_hw = cp.checkpoint(blk, *args, use_reentrant=False)
            else:
                x, prev, attn, k_hw = blk(*args)
            if blk.mode == 'la':
                la_maps.append((attn, hw, k_hw))
            if need_attn:
                maps.append(attn)
        x = self.norm(x)
        # contiguous NCHW: the transpose leaves a channels-last view, which mmcv's CPU RoIAlign reads
        # as if it were NCHW (silently wrong RoI features, measured in tests/models/backbones)
        x = x.transpose(1, 2).reshape(b, x.shape[-1], *hw).contiguous()
        return x, prev if carry_out else None, la_maps, maps


@register('model')
class LaViT(BaseModule):
    """LaViT backbone for classification, detection and segmentation.

    Args:
        arch (str | dict): ``'tiny'`` | ``'small'`` | ``'base'`` (also ``'t'``/``'s'``/``'b'``;
            ``'tiny-lowsr'`` for small inputs), or a dict with the keys of :attr:`arch_zoo` entries
            (``embed_dims``, ``depths``, ``num_heads``, ``mlp_ratios``, ``sr_ratios``, ``num_va``), one entry
            per stage. Defaults to ``'tiny'``.
        in_channels (int): Input image channels. Defaults to 3.
        out_indices (Sequence[int]): Stages whose feature maps ``(B, C_i, H_i, W_i)`` are returned.
            Defaults to ``(0, 1, 2, 3)``.
        all_attention (bool): Ablation: every layer computes vanilla attention (the "all-attention twin").
            Defaults to False.
        la_transform (str): Form of Θ/Ψ. ``'pooled'`` (ours: dense Θ on a fixed pooled G×G key grid, local
            k×k Ψ over the query grid), ``'conv'`` (ours: local Θ and Ψ on the full grids) or ``'full'`` (the
            paper's dense N×N and M×M matrices, needs ``img_size``). Defaults to ``'pooled'``.
        la_chain (str): What the VA layer hands the LA chain: ``'softmax'`` (the paper's: the
            softmax-normalised map) or ``'scores'`` (ours: the pre-softmax scores; equal accuracy in our
            ablation, 1.12× faster at 800×1344, docs/lavit_design.md). Defaults to ``'softmax'``.
        transform_kernel (int): Kernel size of the local Θ/Ψ maps. Defaults to 3.
        la_key_grid (int): Side G of the ``'pooled'`` key grid (7: the key grid of every stage at 224²).
            Defaults to 7.
        img_size (int | tuple[int, int], optional): The input size the ``'full'`` transform is built for;
            when given, a size under :meth:`min_input_side` fails here (every input is checked in
            ``forward``). Defaults to None.
        residual_attention (bool): Residual attention downsampling across stages. Defaults to True.
        dp_loss_weight (float): Weight of the diagonality-preserving loss (0 disables it). Defaults to 0.1.
        qkv_bias (bool): Bias of the Q/K/V projections. Defaults to True.
        drop_rate (float): Dropout in FFNs and after attention projections. Defaults to 0.
        attn_drop_rate (float): Dropout on attention maps. Defaults to 0.
        drop_path_rate (float): Stochastic depth, linearly increasing over all layers. Defaults to 0.1.
        frozen_stages (int): Stages ``0..frozen_stages-1`` are frozen and kept in eval mode; ``-1``
            freezes nothing. Defaults to -1.
        norm_eval (bool): Keep norm layers in eval mode. Defaults to False.
        norm_cfg (dict): Norm layers. Defaults to ``dict(type='LN')``.
        with_cp (bool | str): Activation checkpointing. ``True`` (or ``'block'``): every block (attention +
            FFN), as mmdet's Swin (``SwinBlock``; mmdet's PVT has none): a block keeps only its inputs
            (tokens, the incoming LA-chain map, the residual attention) and recomputes the rest in
            backward, with the RNG state replayed (drop path). The chain map a block hands on and an LA
            block's softmax map (the DP loss's input) are outputs of the checkpointed block and stay
            alive; their gradients flow into its recomputation. ``'ffn'`` (ours): only each FFN's three
            hidden maps (fc1, depth-wise conv, GELU: ``mlp_ratio`` × C channels each, most of what
            training keeps) are recomputed; attention is not. Blocks of frozen stages are not
            checkpointed. Gradients equal the plain module's (tests/models/backbones/test_lavit_cp.py);
            memory and time: docs/benchmarks.md. Defaults to False.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained', checkpoint='cls.pth', prefix='backbone.')``.
            Defaults to None.
    """
    # ours (the paper gives no depths/widths/L_va): PVTv2 widths, depths and MLP ratios chosen so that params
    # (with a 1000-class head) and FLOPs at 224² are within 2.2% of the paper's table
    _widths = dict(embed_dims=(64, 128, 320, 512), num_heads=(1, 2, 5, 8))
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], dict(_widths, depths=(2, 4, 2, 2), mlp_ratios=(4, 4, 2, 2),
                                            sr_ratios=(8, 4, 2, 1), num_va=(1, 1, 1, 1))),
        **dict.fromkeys(['s', 'small'], dict(_widths, depths=(3, 2, 6, 3), mlp_ratios=(8, 8, 4, 4),
                                             sr_ratios=(8, 4, 2, 1), num_va=(1, 1, 2, 1))),
        **dict.fromkeys(['b', 'base'], dict(_widths, depths=(3, 3, 18, 3), mlp_ratios=(8, 8, 4, 4),
                                            sr_ratios=(8, 4, 2, 1), num_va=(1, 1, 2, 1))),
        # not a paper variant: LaViT-T with lower spatial-reduction ratios, so that small inputs (the 64-px
        # generated data of the offline configs) keep several keys per query in every stage
        'tiny-lowsr': dict(_widths, depths=(2, 4, 2, 2), mlp_ratios=(4, 4, 2, 2), sr_ratios=(4, 2, 1, 1),
                           num_va=(1, 1, 1, 1)),
    }
    _arch_keys = ('embed_dims', 'depths', 'num_heads', 'mlp_ratios', 'sr_ratios', 'num_va')
    # 3: la_chain defaults to the paper's 'softmax'; 2: one LaViTStage per stage (stages.i.{patch_embed,
    # blocks,norm,attn_downsample}), la_chain defaulted to 'scores'; 1 (or none): the parallel lists
    # patch_embeds.i / stages.i.j / norms.i / attn_downsamples.(i-1), converted on load ('scores' only)
    _version = 3

    def __init__(self, arch: Union[str, dict] = 'tiny', in_channels: int = 3,
                 out_indices: Sequence[int] = (0, 1, 2, 3), all_attention: bool = False,
                 la_transform: str = 'pooled', la_chain: str = 'softmax', transform_kernel: int = 3,
                 la_key_grid: int = 7, img_size: Optional[Union[int, Tuple[int, int]]] = None,
                 residual_attention: bool = True, dp_loss_weight: float = 0.1, qkv_bias: bool = True,
                 drop_rate: float = 0., attn_drop_rate: float = 0., drop_path_rate: float = 0.1,
                 frozen_stages: int = -1, norm_eval: bool = False, norm_cfg: dict = dict(type='LN'),
                 with_cp: Union[bool, str] = False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise KeyError(f'arch {arch!r} is not one of {sorted(set(self.arch_zoo))}; '
                               'or pass a dict of per-stage settings')
            arch = self.arch_zoo[arch.lower()]
        missing = set(self._arch_keys) - set(arch)
        if missing:
            raise KeyError(f'custom arch is missing {sorted(missing)}; it needs {list(self._arch_keys)}')
        if la_chain not in ('softmax', 'scores'):
            raise ValueError(f"la_chain must be 'softmax' (the paper's) or 'scores' (ours), got {la_chain!r}")
        self.arch = {k: tuple(arch[k]) for k in self._arch_keys}
        dims, depths, heads = self.arch['embed_dims'], self.arch['depths'], self.arch['num_heads']
        num_va = tuple(depths) if all_attention else self.arch['num_va']
        if any(not 1 <= v <= d for v, d in zip(num_va, depths)):
            raise ValueError(f'num_va {num_va} must be between 1 and the stage depth {depths}: the first '
                             'layer of every stage needs real attention')
        self.num_stages = len(depths)
        out_indices = [i + self.num_stages if i < 0 else i for i in out_indices]
        if any(not 0 <= i < self.num_stages for i in out_indices):
            raise ValueError(f'out_indices {out_indices} out of range for {self.num_stages} stages')
        self.out_indices = tuple(out_indices)
        self.num_va = num_va
        self.all_attention = all_attention
        self.la_chain = la_chain
        self.residual_attention = residual_attention
        self.dp_loss_weight = dp_loss_weight
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.out_channels = [dims[i] for i in self.out_indices]
        if isinstance(img_size, int):
            img_size = (img_size, img_size)
        self.min_input_size = self.min_input_side(self.arch['sr_ratios'])
        if img_size is not None:
            self._check_input_size(img_size, 'img_size')

        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.stages = ModuleList()
        for i in range(self.num_stages):
            full_tokens = None
            if la_transform == 'full' and img_size is not None:
                q = [math.ceil(s / 4 / 2 ** i) for s in img_size]
                k = [s // self.arch['sr_ratios'][i] for s in q]
                full_tokens = (q[0] * q[1], k[0] * k[1])
            cur = sum(depths[:i])
            self.stages.append(LaViTStage(
                in_channels if i == 0 else dims[i - 1], dims[i], depths[i], heads[i],
                self.arch['mlp_ratios'][i], self.arch['sr_ratios'][i], num_va[i],
                patch_size=7 if i == 0 else 3, stride=4 if i == 0 else 2,
                heads_in=heads[i - 1] if i > 0 and residual_attention else None,
                drop_path=dpr[cur:cur + depths[i]], chain_softmax=la_chain == 'softmax', norm_cfg=norm_cfg,
                with_cp=with_cp, drop=drop_rate, la_transform=la_transform, transform_kernel=transform_kernel,
                key_grid=la_key_grid, full_tokens=full_tokens, qkv_bias=qkv_bias, attn_drop=attn_drop_rate))
        self._aux_loss: Optional[torch.Tensor] = None
        self._warned_unconsumed = False
        self.record_attention = False  # analysis tools set this to keep every layer's softmax map
        self.attention_maps: List[torch.Tensor] = []
        self._register_load_state_dict_pre_hook(self._load_older_versions)
        self._freeze_stages()

    @staticmethod
    def min_input_side(sr_ratios: Sequence[int]) -> int:
        """The smallest input side (px) for these per-stage ``sr_ratios``: stage ``i`` reduces its keys and
        values with a conv of kernel = stride = ``sr_ratios[i]`` on its token grid, which must be at least
        that wide; the grids come from the patch embeddings (kernel 7 stride 4, then kernel 3 stride 2,
        padding kernel // 2). 29 px for the paper's (8, 4, 2, 1), 13 px for 'tiny-lowsr' (4, 2, 1, 1)."""
        need = 1  # the side the next stage's input needs
        for i in reversed(range(len(sr_ratios))):
            k, s = (7, 4) if i == 0 else (3, 2)
            need = (max(need, sr_ratios[i]) - 1) * s + k - 2 * (k // 2)
        return need

    def _check_input_size(self, hw, what: str) -> None:
        if min(hw) >= self.min_input_size:
            return
        lowsr = self.arch_zoo['tiny-lowsr']['sr_ratios']
        raise ValueError(
            f'LaViT: {what} {tuple(hw)} is under the minimum input side of {self.min_input_size} px for '
            f'sr_ratios {self.arch["sr_ratios"]} (stage i reduces keys/values with a stride-sr_ratios[i] '
            'conv on its grid, 1/4, 1/8, 1/16, 1/32 of the input, which must be at least sr_ratios[i] wide). '
            "Feed larger images (the pipeline's Resize / crop size) or use lower sr_ratios: "
            f"arch='tiny-lowsr' {lowsr} takes {self.min_input_side(lowsr)} px, or a custom arch dict")

    def _load_older_versions(self, state_dict, prefix, local_metadata, *args, **kwargs):
        """Upgrade a version-1 state dict, and say when a checkpoint saved before version 3 (most likely
        trained with the former default ``la_chain='scores'``) loads into the paper's chain. Prefix-stripped
        checkpoints (``init_cfg`` with ``prefix``) carry no version: only version-1 key names still tell."""
        version = 1 if self._upgrade_state_dict(state_dict, prefix) else local_metadata.get('version')
        if self.la_chain == 'softmax' and version is not None and version < 3:
            warnings.warn(f'this LaViT checkpoint (version {version}) predates la_chain defaulting to '
                          "'softmax' (the paper's chain); if it was trained with the former default, build "
                          "the backbone with la_chain='scores' to compute what it was trained to compute")

    @staticmethod
    def _upgrade_state_dict(state_dict, prefix: str) -> bool:
        """Rename version-1 keys (parallel per-stage lists) to the :class:`LaViTStage` tree, keyed on the
        names; True when there were any."""
        old = re.compile(re.escape(prefix) + r'(patch_embeds|norms|attn_downsamples)\.(\d+)\.(.*)|'
                         + re.escape(prefix) + r'stages\.(\d+)\.(\d+)\.(.*)')
        renamed = False
        for key in list(state_dict):
            m = old.fullmatch(key)
            if m is None:
                continue
            renamed = True
            if m.group(1):
                i, rest = int(m.group(2)), m.group(3)
                name = {'patch_embeds': 'patch_embed', 'norms': 'norm', 'attn_downsamples': 'attn_downsample'}
                if m.group(1) == 'attn_downsamples':
                    i += 1  # attn_downsamples[i-1] fed stage i
                new = f'{prefix}stages.{i}.{name[m.group(1)]}.{rest}'
            else:
                new = f'{prefix}stages.{m.group(4)}.blocks.{m.group(5)}.{m.group(6)}'
            state_dict[new] = state_dict.pop(key)
        return renamed

    # ----------------------------------------------------------------------------------------- init
    def init_weights(self):
        if self.init_cfg is not None:  # Pretrained (with prefix) etc. is handled by BaseModule
            return super().init_weights()
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_init(m, std=.02, bias=0.)
            elif isinstance(m, nn.LayerNorm):
                constant_init(m, 1., bias=0.)
            elif isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                normal_init(m, mean=0., std=math.sqrt(2.0 / fan_out), bias=0.)

    # ---------------------------------------------------------------------------------------- freeze
    def _freeze_stages(self):
        for stage in self.stages[:max(self.frozen_stages, 0)]:
            stage.eval()
            for p in stage.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.LayerNorm):
                    m.eval()
        return self

    # --------------------------------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """``(B, 3, H, W)`` -> tuple of ``(B, C_i, H_i, W_i)`` for ``i`` in ``out_indices``."""
        if all(type(v) is int for v in x.shape[-2:]):  # not a symbolic size while exporting
            self._check_input_size(x.shape[-2:], 'input')
        want_aux = self.training and self.dp_loss_weight > 0 and torch.is_grad_enabled()
        if want_aux and self._aux_loss is not None and not self._warned_unconsumed:
            warnings.warn('LaViT computed a diagonality-preserving loss that nobody consumed: add '
                          "custom_hooks=[dict(type='AuxiliaryLossHook')] to the config (our configs do) "
                          'or set dp_loss_weight=0.')
            self._warned_unconsumed = True
        dp_terms, outs, self.attention_maps = [], [], []
        carry = None
        for i, stage in enumerate(self.stages):
            carry_out = self.residual_attention and i + 1 < self.num_stages
            x, carry, la_maps, maps = stage(x, carry, carry_out, self.record_attention)
            if want_aux:
                dp_terms += [diagonality_loss(a, q_hw, k_hw) for a, q_hw, k_hw in la_maps]
            self.attention_maps += [a.detach() for a in maps]
            if i in self.out_indices:
                outs.append(x)
        if want_aux:
            self._aux_loss = (self.dp_loss_weight * torch.stack(dp_terms).mean()) if dp_terms else None
        return tuple(outs)

    def pop_aux_losses(self) -> Dict[str, torch.Tensor]:
        """The auxiliary losses of the last training forward (``{'loss_dp': ...}``), then forget them."""
        loss, self._aux_loss = self._aux_loss, None
        return {} if loss is None else {'loss_dp': loss}
