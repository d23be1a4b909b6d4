"""LaViT: "You Only Need Less Attention at Each Stage in Vision Transformers" (Zhang et al., CVPR 2024).

A 4-stage pyramid ViT. In each stage the first ``num_va`` layers compute vanilla attention (VA,
``A = QKᵀ/√d``, output ``softmax(A)·V``) and keep their pre-softmax score map; the remaining
less-attention (LA) layers compute no Q and no K: they transform the previous layer's score map,
``A_l = Ψ · A_{l-1} · Θᵀ`` (Θ along the key axis, Ψ along the query axis, the paper's
``Ψ(Θ(A)ᵀ)ᵀ``), and apply ``softmax(A_l)`` to their own values. Across stages the last score map is
carried into the next stage's first attention by *residual attention downsampling*. A
*diagonality-preserving* (DP) loss on the softmax-normalised transformed maps is returned through
:meth:`LaViT.pop_aux_losses` and added to the task loss by :class:`mmlavit.engine.AuxiliaryLossHook`.

What is the paper's and what is ours (``docs/lavit_design.md``):

* paper: VA/LA split per stage, the recursive score transformation by two linear maps, residual
  attention downsampling between stages, the DP loss, the variant sizes (params/FLOPs at 224²).
* ours: the PVTv2 skeleton (overlapping patch embedding, spatial-reduction attention, depth-wise-conv
  FFN, widths 64/128/320/512) with depths/``num_va`` chosen to match the paper's params and FLOPs;
  the form of Θ and Ψ (``la_transform``, all identity-initialised):

  - ``'pooled'`` (default): Θ is the paper's dense matrix on a *fixed* key grid (``la_key_grid`` = 7, so
    G² = 49 keys): the previous map's keys are average-pooled onto that grid, then ``A·Θᵀ`` with Θ
    (G², G²); the LA layer's values are pooled onto the same grid. At 224² every stage of T/S/B has exactly
    7×7 keys, so the pooling is the identity and Θ is the literal M×M matrix; at higher resolutions the LA
    layer attends to 49 pooled keys (as PVTv2-li's pooled attention), which is what makes it cheaper than
    the VA layer it replaces at every resolution. Ψ (N×N is impossible at N = 3136) is a local k×k linear
    map over the query grid (a banded matrix).
  - ``'conv'``: Θ and Ψ both local k×k maps over the full key and query grids (linear in N·M, but many
    memory passes over the full map: slower than VA on CPU, kept for the ablation).
  - ``'full'``: the literal dense N×N and M×M matrices at a fixed input size (``img_size``).

  Also ours: the DP loss form (below); the downsampling operator (a strided depth-wise conv over each head's
  query grid + 1×1 head mixing + learned scale).

Shapes: input ``(B, 3, H, W)``; stage ``i`` outputs ``(B, C_i, H/2^(i+2), W/2^(i+2))`` (rounded up);
score maps are ``(B, heads, N, M)`` with N query tokens and M = keys after spatial reduction (VA layers)
or M = G² pooled keys (``'pooled'`` LA layers).
"""
import math
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_

from mmlavit.registry import register

HW = Tuple[int, int]


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if p == 0. or not training:
        return x
    keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1 - p)
    return x * keep / (1 - p)


class DropPath(nn.Module):
    def __init__(self, p: float = 0.):
        super().__init__()
        self.p = p

    def forward(self, x):
        return drop_path(x, self.p, self.training)


class OverlapPatchEmbed(nn.Module):
    """Strided conv + LayerNorm: ``(B, C_in, H, W) -> (B, N, C), (H', W')``."""

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int, stride: int):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride, patch_size // 2)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x):
        x = self.proj(x)
        hw = x.shape[2:]
        return self.norm(x.flatten(2).transpose(1, 2)), (int(hw[0]), int(hw[1]))


class DWConvFFN(nn.Module):
    """PVTv2 feed-forward: fc -> 3×3 depth-wise conv -> GELU -> fc. ``(B, N, C) -> (B, N, C)``."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x, hw: HW):
        x = self.fc1(x)
        b, n, c = x.shape
        # the (B, N, C) tokens seen as a channels-last (B, C, H, W) view: no transposing copies (the
        # depth-wise conv runs in channels-last, ~2× faster at detection resolution on CPU)
        x = self.dwconv(x.view(b, *hw, c).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).reshape(b, n, c)
        return self.drop(self.fc2(self.drop(self.act(x))))


def _grid_conv(scores: torch.Tensor, weight: torch.Tensor, axis: str, q_hw: HW, k_hw: HW) -> torch.Tensor:
    """Apply a per-head k×k cross-correlation (``weight``: (heads, 1, k, k), zero padding, like a
    depth-wise ``F.conv2d``) to the score map along one axis.

    ``axis='key'``: each query's row of keys is seen as a (Hk, Wk) image — a banded linear map Θ on the
    key axis (``A·Θᵀ``). ``axis='query'``: each key's column of queries as a (Hq, Wq) image — ``Ψ·A``.
    ``scores``: (B, h, N, M) -> (B, h, N, M).

    Computed as k² shifted multiply-adds over the padded grid (O(k²·N·M), no transposes): running it as
    ``conv2d`` over B·N tiny images is many times slower on CPU, above all in the backward pass.
    """
    b, h, n, m = scores.shape
    k = weight.shape[-1]
    p = k // 2
    w = weight.reshape(h, k, k)
    if axis == 'key':
        gh, gw = k_hw
        x = F.pad(scores.reshape(b, h, n, gh, gw), (p, p, p, p))
        view = lambda i, j: x[..., i:i + gh, j:j + gw]  # noqa: E731
    else:
        gh, gw = q_hw
        x = F.pad(scores.reshape(b, h, gh, gw, m), (0, 0, p, p, p, p))
        view = lambda i, j: x[:, :, i:i + gh, j:j + gw, :]  # noqa: E731
    shape = (1, h, 1, 1, 1)
    out = None
    for i in range(k):
        for j in range(k):
            term = w[:, i, j].reshape(shape) * view(i, j)
            out = term if out is None else out + term
    return out.reshape(b, h, n, m)


def _delta_kernel(heads: int, k: int) -> torch.Tensor:
    w = torch.zeros(heads, 1, k, k)
    w[:, :, k // 2, k // 2] = 1.
    return w


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
    b, h, n, m = attn.shape
    if (q_hw[0], q_hw[1]) != (k_hw[0], k_hw[1]):
        p = attn.permute(0, 1, 3, 2).reshape(b * h, m, *q_hw)
        p = F.adaptive_avg_pool2d(p, k_hw).reshape(b, h, m, m).transpose(-1, -2)
    else:
        p = attn
    sym = (p - p.transpose(-1, -2)).pow(2).sum(dim=(-1, -2)) / m
    diag = torch.diagonal(p, dim1=-2, dim2=-1)
    eye = torch.eye(m, dtype=torch.bool, device=p.device)
    off_max = p.masked_fill(eye, float('-inf')).amax(dim=-1) if m > 1 else torch.zeros_like(diag)
    dom = F.relu(off_max - diag).sum(dim=-1) / m
    return (sym + dom).mean()


class LaViTAttention(nn.Module):
    """Spatial-reduction attention in one of two modes.

    * ``mode='va'`` (vanilla): ``A = QKᵀ/√d (+ residual scores)``; returns ``softmax(A)·V`` and ``A``.
    * ``mode='la'`` (less attention): no Q, no K. ``A = Ψ·A_prev·Θᵀ``; returns ``softmax(A)·V`` and ``A``.

    Keys/values come from the spatially reduced input (``sr_ratio``), as in PVTv2. Inputs: ``x``
    (B, N, C) on an (H, W) grid; ``prev`` (B, h, N, M) scores of the previous layer (LA only);
    ``residual`` (B, h, N, M) downsampled scores of the previous stage (VA only).
    """

    def __init__(self, dim: int, num_heads: int, sr_ratio: int = 1, mode: str = 'va',
                 la_transform: str = 'pooled', transform_kernel: int = 3, key_grid: int = 7,
                 full_tokens: Optional[Tuple[int, int]] = None, qkv_bias: bool = True,
                 attn_drop: float = 0., proj_drop: float = 0.):
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
            self.norm = nn.LayerNorm(dim)
        if mode == 'va':
            self.q = nn.Linear(dim, dim, bias=qkv_bias)
            self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        else:
            self.v = nn.Linear(dim, dim, bias=qkv_bias)
            self.la_transform = la_transform
            self.key_grid = (key_grid, key_grid)
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

    def _reduce(self, x, hw: HW):
        if self.sr_ratio == 1:
            return x, hw
        b, n, c = x.shape
        x = self.sr(x.reshape(b, *hw, c).permute(0, 3, 1, 2))  # channels-last view, as in DWConvFFN
        k_hw = (int(x.shape[2]), int(x.shape[3]))
        return self.norm(x.permute(0, 2, 3, 1).reshape(b, -1, c)), k_hw

    def _heads(self, t):  # (B, L, C) -> (B, h, L, d)
        b, l, _ = t.shape
        return t.reshape(b, l, self.num_heads, -1).transpose(1, 2)

    @staticmethod
    def pool_keys(t: torch.Tensor, hw: HW, grid: HW) -> torch.Tensor:
        """Average ``t`` (B, h, N, M) over its key grid ``hw`` onto ``grid``: (B, h, N, G²). Identity when the
        grids agree (LaViT at 224², where every stage has 7×7 keys)."""
        if tuple(hw) == tuple(grid):
            return t
        b, h, n, _ = t.shape
        return F.adaptive_avg_pool2d(t.reshape(b * h, n, *hw), grid).reshape(b, h, n, -1)

    def transform(self, prev: torch.Tensor, q_hw: HW, k_hw: HW) -> torch.Tensor:
        """The LA score transformation ``Ψ · prev · Θᵀ``. ``'pooled'``: ``prev`` (B, h, N, M) on key grid
        ``k_hw`` -> (B, h, N, G²) on the fixed key grid; ``'conv'`` / ``'full'``: (B, h, N, M) -> same."""
        if self.la_transform == 'pooled':
            a = self.pool_keys(prev, k_hw, self.key_grid) @ self.theta.transpose(-1, -2)  # Θ: dense G²×G²
            return _grid_conv(a, self.psi, 'query', q_hw, self.key_grid)  # Ψ: local k×k over the query grid
        if self.la_transform == 'conv':
            return _grid_conv(_grid_conv(prev, self.theta, 'key', q_hw, k_hw), self.psi, 'query', q_hw, k_hw)
        n, m = prev.shape[-2:]
        if self.psi.shape[-1] != n or self.theta.shape[-1] != m:
            raise ValueError(f"la_transform='full' was built for {self.psi.shape[-1]} queries and "
                             f'{self.theta.shape[-1]} keys but got {n} and {m}: use the img_size it was '
                             "built for or la_transform='conv'")
        return self.psi @ prev @ self.theta.transpose(-1, -2)

    def forward(self, x, hw: HW, prev: Optional[torch.Tensor] = None, residual: Optional[torch.Tensor] = None,
                prev_k_hw: Optional[HW] = None):
        kv_in, k_hw = self._reduce(x, hw)
        if self.mode == 'va':
            q = self._heads(self.q(x))
            k, v = self.kv(kv_in).chunk(2, dim=-1)
            scores = (q * self.scale) @ self._heads(k).transpose(-1, -2)
            if residual is not None:
                scores = scores + residual
        else:
            if prev is None:
                raise RuntimeError('a less-attention layer needs the previous layer\'s scores')
            scores = self.transform(prev, hw, prev_k_hw or k_hw)
            if self.la_transform == 'pooled':  # values on the same fixed key grid as the transformed scores
                if tuple(k_hw) != self.key_grid:
                    b, _, c = kv_in.shape
                    kv_grid = F.adaptive_avg_pool2d(kv_in.reshape(b, *k_hw, c).permute(0, 3, 1, 2), self.key_grid)
                    kv_in = kv_grid.permute(0, 2, 3, 1).reshape(b, -1, c)
                k_hw = self.key_grid
            v = self.v(kv_in)
        attn = scores.softmax(dim=-1)
        out = self.attn_drop(attn) @ self._heads(v)
        out = out.transpose(1, 2).reshape(x.shape)
        return self.proj_drop(self.proj(out)), scores, attn, k_hw


class LaViTBlock(nn.Module):
    """Pre-norm transformer layer: attention (VA or LA) + depth-wise-conv FFN, with drop path."""

    def __init__(self, dim, num_heads, mlp_ratio, sr_ratio, mode, drop_path=0., **attn_kw):
        super().__init__()
        self.mode = mode
        self.norm1 = nn.LayerNorm(dim)
        self.attn = LaViTAttention(dim, num_heads, sr_ratio, mode, **attn_kw)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = DWConvFFN(dim, int(dim * mlp_ratio))

    def forward(self, x, hw: HW, prev=None, residual=None, prev_k_hw=None):
        y, scores, attn, k_hw = self.attn(self.norm1(x), hw, prev, residual, prev_k_hw)
        x = x + self.drop_path(y)
        x = x + self.drop_path(self.mlp(self.norm2(x), hw))
        return x, scores, attn, k_hw


class ResidualAttentionDownsample(nn.Module):
    """Carry the last score map of a stage into the next stage's first attention.

    ``(B, h_in, N, M)`` on query grid ``q_hw`` / key grid ``k_hw`` -> ``(B, h_out, N', M')`` on the new
    grids: a strided k×k depth-wise conv over each head's query grid, a 1×1 head mixing when the head
    count changes, bilinear resampling of the key grid when its size changes, times a learned scale.
    """

    def __init__(self, heads_in: int, heads_out: int, kernel: int = 3, init_scale: float = 0.1):
        super().__init__()
        self.down = nn.Conv2d(heads_in, heads_in, kernel, 2, kernel // 2, groups=heads_in)
        self.mix = nn.Conv2d(heads_in, heads_out, 1) if heads_in != heads_out else nn.Identity()
        self.scale = nn.Parameter(torch.tensor(float(init_scale)))

    def forward(self, scores, q_hw: HW, k_hw: HW, new_q_hw: HW, new_k_hw: HW):
        b, h, n, m = scores.shape
        x = scores.permute(0, 3, 1, 2).reshape(b * m, h, *q_hw)
        x = self.mix(self.down(x))
        if tuple(x.shape[-2:]) != tuple(new_q_hw):
            x = F.interpolate(x, size=new_q_hw, mode='bilinear', align_corners=False)
        h2 = x.shape[1]
        x = x.reshape(b, m, h2, -1).permute(0, 3, 2, 1)  # (B, N', h2, M)
        if tuple(k_hw) != tuple(new_k_hw):
            n2 = x.shape[1]
            x = F.interpolate(x.reshape(b * n2, h2, *k_hw), size=new_k_hw, mode='bilinear',
                              align_corners=False).reshape(b, n2, h2, -1)
        return self.scale * x.permute(0, 2, 1, 3)


@register('model')
class LaViT(BaseModule):
    """LaViT backbone for classification, detection and segmentation.

    Args:
        arch: ``'tiny'`` | ``'small'`` | ``'base'`` (also ``'t'``/``'s'``/``'b'``; ``'tiny-lowsr'`` for small
            inputs), or a dict with the keys
            of :attr:`arch_zoo` entries (``embed_dims``, ``depths``, ``num_heads``, ``mlp_ratios``,
            ``sr_ratios``, ``num_va``), each a 4-tuple, one entry per stage.
        in_channels: input image channels.
        out_indices: stages whose feature maps are returned, each ``(B, C_i, H_i, W_i)``.
        all_attention: ablation — every layer computes vanilla attention (the "all-attention twin").
        la_transform: ``'pooled'`` (default: dense Θ on a fixed pooled key grid, local Ψ), ``'conv'``
            (local Θ and Ψ on the full grids) or ``'full'`` (the literal dense matrices, needs ``img_size``);
            see the module docstring.
        transform_kernel: kernel size of the local Θ/Ψ maps.
        la_key_grid: side G of the ``'pooled'`` key grid (7: the key grid of every stage at 224²).
        img_size: the fixed input size ``(H, W)`` the ``'full'`` transform is built for.
        residual_attention: ablation switch for residual attention downsampling across stages.
        dp_loss_weight: weight of the diagonality-preserving loss (0 disables it).
        drop_path_rate: stochastic depth, linearly increasing over all layers.
        frozen_stages: stages ``0..frozen_stages-1`` (their patch embedding, layers, norms) are frozen
            and kept in eval mode; ``-1`` freezes nothing.
        norm_eval: keep LayerNorms in eval mode (has no running stats; kept for API parity).
        with_cp: activation checkpointing per layer (saves memory, costs time).
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint='cls.pth', prefix='backbone.')``.
    """
    # Our design (papers.md: depths/widths/L_va not found): PVTv2 widths, depths and MLP ratios chosen so
    # that params (with a 1000-class head) and FLOPs at 224² are within 2.2% of the paper's table.
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], dict(embed_dims=(64, 128, 320, 512), depths=(2, 4, 2, 2),
                                             num_heads=(1, 2, 5, 8), mlp_ratios=(4, 4, 2, 2),
                                             sr_ratios=(8, 4, 2, 1), num_va=(1, 1, 1, 1))),
        **dict.fromkeys(['s', 'small'], dict(embed_dims=(64, 128, 320, 512), depths=(3, 2, 6, 3),
                                              num_heads=(1, 2, 5, 8), mlp_ratios=(8, 8, 4, 4),
                                              sr_ratios=(8, 4, 2, 1), num_va=(1, 1, 2, 1))),
        **dict.fromkeys(['b', 'base'], dict(embed_dims=(64, 128, 320, 512), depths=(3, 3, 18, 3),
                                             num_heads=(1, 2, 5, 8), mlp_ratios=(8, 8, 4, 4),
                                             sr_ratios=(8, 4, 2, 1), num_va=(1, 1, 2, 1))),
        # not a paper variant: LaViT-T with lower spatial-reduction ratios, so that small inputs (the 64-px
        # generated data of the offline configs) keep several keys per query in every stage
        'tiny-lowsr': dict(embed_dims=(64, 128, 320, 512), depths=(2, 4, 2, 2), num_heads=(1, 2, 5, 8),
                           mlp_ratios=(4, 4, 2, 2), sr_ratios=(4, 2, 1, 1), num_va=(1, 1, 1, 1)),
    }
    _arch_keys = ('embed_dims', 'depths', 'num_heads', 'mlp_ratios', 'sr_ratios', 'num_va')

    def __init__(self, arch: Union[str, dict] = 'tiny', in_channels: int = 3,
                 out_indices: Sequence[int] = (0, 1, 2, 3), all_attention: bool = False,
                 la_transform: str = 'pooled', transform_kernel: int = 3, la_key_grid: int = 7,
                 img_size: Optional[Union[int, Tuple[int, int]]] = None, residual_attention: bool = True,
                 dp_loss_weight: float = 0.1, qkv_bias: bool = True, drop_rate: float = 0.,
                 attn_drop_rate: float = 0., drop_path_rate: float = 0.1, frozen_stages: int = -1,
                 norm_eval: bool = False, with_cp: bool = False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise KeyError(f'arch {arch!r} is not one of {sorted(set(self.arch_zoo))}; '
                               'or pass a dict of per-stage settings')
            arch = self.arch_zoo[arch.lower()]
        missing = set(self._arch_keys) - set(arch)
        if missing:
            raise KeyError(f'custom arch is missing {sorted(missing)}; it needs {list(self._arch_keys)}')
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
        self.residual_attention = residual_attention
        self.dp_loss_weight = dp_loss_weight
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.out_channels = [dims[i] for i in self.out_indices]
        if isinstance(img_size, int):
            img_size = (img_size, img_size)

        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.patch_embeds, self.stages, self.norms = ModuleList(), ModuleList(), ModuleList()
        self.attn_downsamples = ModuleList()
        cur = 0
        for i in range(self.num_stages):
            self.patch_embeds.append(OverlapPatchEmbed(in_channels if i == 0 else dims[i - 1], dims[i],
                                                       7 if i == 0 else 3, 4 if i == 0 else 2))
            full_tokens = None
            if la_transform == 'full' and img_size is not None:
                q = [math.ceil(s / 4 / 2 ** i) for s in img_size]
                k = [s // self.arch['sr_ratios'][i] for s in q]
                full_tokens = (q[0] * q[1], k[0] * k[1])
            blocks = [LaViTBlock(dims[i], heads[i], self.arch['mlp_ratios'][i], self.arch['sr_ratios'][i],
                                 'va' if j < num_va[i] else 'la', dpr[cur + j], la_transform=la_transform,
                                 transform_kernel=transform_kernel, key_grid=la_key_grid, full_tokens=full_tokens,
                                 qkv_bias=qkv_bias, attn_drop=attn_drop_rate, proj_drop=drop_rate)
                      for j in range(depths[i])]
            self.stages.append(ModuleList(blocks))
            self.norms.append(nn.LayerNorm(dims[i]))
            if i > 0 and residual_attention:
                self.attn_downsamples.append(ResidualAttentionDownsample(heads[i - 1], heads[i]))
            cur += depths[i]
        self._aux_loss: Optional[torch.Tensor] = None
        self._warned_unconsumed = False
        self.record_attention = False  # analysis tools set this to keep every layer's softmax map
        self.attention_maps: List[torch.Tensor] = []
        self._freeze_stages()

    # ----------------------------------------------------------------------------------------- init
    def init_weights(self):
        if self.init_cfg is not None:  # Pretrained (with prefix) etc. is handled by BaseModule
            return super().init_weights()
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                m.weight.data.normal_(0, math.sqrt(2.0 / fan_out))
                if m.bias is not None:
                    m.bias.data.zero_()

    # ---------------------------------------------------------------------------------------- freeze
    def _freeze_stages(self):
        for i in range(min(self.frozen_stages, self.num_stages)):
            mods = [self.patch_embeds[i], self.stages[i], self.norms[i]]
            if i > 0 and self.residual_attention:
                mods.append(self.attn_downsamples[i - 1])
            for m in mods:
                m.eval()
                for p in m.parameters():
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
    def _run_block(self, blk, x, hw, prev, residual, prev_k_hw):
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(blk, x, hw, prev, residual, prev_k_hw, use_reentrant=False)
        return blk(x, hw, prev, residual, prev_k_hw)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """``(B, 3, H, W)`` -> tuple of ``(B, C_i, H_i, W_i)`` for ``i`` in ``out_indices``."""
        want_aux = self.training and self.dp_loss_weight > 0 and torch.is_grad_enabled()
        if want_aux and self._aux_loss is not None and not self._warned_unconsumed:
            warnings.warn('LaViT computed a diagonality-preserving loss that nobody consumed: add '
                          "custom_hooks=[dict(type='AuxiliaryLossHook')] to the config (our configs do) "
                          'or set dp_loss_weight=0.')
            self._warned_unconsumed = True
        dp_terms, outs = [], []
        self.attention_maps = []
        b = x.shape[0]
        last = None  # (scores, q_hw, k_hw) of the previous stage's last layer
        for i in range(self.num_stages):
            x, hw = self.patch_embeds[i](x)
            prev, prev_k_hw, residual = None, None, None
            for j, blk in enumerate(self.stages[i]):
                if j == 0 and last is not None and self.residual_attention:
                    k_hw = self._key_grid(blk, hw)
                    residual = self.attn_downsamples[i - 1](last[0], last[1], last[2], hw, k_hw)
                x, scores, attn, k_hw = self._run_block(blk, x, hw, prev, residual if j == 0 else None, prev_k_hw)
                prev_k_hw = k_hw
                if want_aux and blk.mode == 'la':
                    dp_terms.append(diagonality_loss(attn, hw, k_hw))
                if self.record_attention:
                    self.attention_maps.append(attn.detach())
                prev = scores
            last = (prev, hw, k_hw)
            x = self.norms[i](x)
            # contiguous NCHW: the transpose leaves a channels-last view, which mmcv's CPU RoIAlign reads
            # as if it were NCHW (silently wrong RoI features, measured in tests/models/test_lavit.py)
            x = x.transpose(1, 2).reshape(b, -1, *hw).contiguous()
            if i in self.out_indices:
                outs.append(x)
        if want_aux:
            self._aux_loss = (self.dp_loss_weight * torch.stack(dp_terms).mean()) if dp_terms else None
        return tuple(outs)

    @staticmethod
    def _key_grid(blk: LaViTBlock, hw: HW) -> HW:
        r = blk.attn.sr_ratio
        return (hw[0] // r, hw[1] // r) if r > 1 else hw

    def pop_aux_losses(self) -> Dict[str, torch.Tensor]:
        """The auxiliary losses of the last training forward (``{'loss_dp': ...}``), then forget them."""
        loss, self._aux_loss = self._aux_loss, None
        return {} if loss is None else {'loss_dp': loss}
