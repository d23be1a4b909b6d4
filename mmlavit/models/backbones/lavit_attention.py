"""LaViT's attention layer: vanilla attention (VA) with a residual from the previous stage, or less-attention
(LA), which transforms the previous layer's map instead of computing Q and K
(:mod:`mmlavit.models.backbones.lavit`). A VA layer takes one of two paths, equal in value: the explicit N×M
map when a dense map is needed, or the fused ``scaled_dot_product_attention`` (docs/lavit_design.md, "Fast
paths")."""
from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer

from .lavit_ops import (HW, Residual, ScoreMap, _delta_kernel, _example_int, _fold_projection, _pool_matrix,
                        _same_grid, _softmax_keys, key_conv, pool_keys, pool_rows, query_conv)


class LayerOutput(NamedTuple):
    """What an attention layer, and the block around it, hands on.

    ``x``: (B, N, C) tokens; ``chain``: the map the next LA layer or stage consumes (None when nothing
    does); ``attn``: the softmax map (B, h, N, M) (LA layers always, VA layers when asked, else None);
    ``k_hw``: the layer's key grid.
    """
    x: torch.Tensor
    chain: Optional[ScoreMap]
    attn: Optional[torch.Tensor]
    k_hw: HW


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
                chain_softmax: bool = True, need_attn: bool = False) -> LayerOutput:
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
            LayerOutput: output (B, N, C), the chain map, the softmax map, the key grid.
        """
        kv_in, k_hw = self._reduce(x, hw)
        if self.mode == 'la':
            return self._less_attention(x, hw, kv_in, k_hw, prev, chain)
        q = self._heads(self.q(x))
        k, v = (self._heads(t) for t in self.kv(kv_in).chunk(2, dim=-1))
        if self._needs_dense_map(k_hw, residual, chain, chain_softmax, need_attn):
            return self._explicit_attention(x, hw, q, k, v, k_hw, residual, chain, chain_softmax, need_attn)
        return self._fused_attention(x, hw, q, k, v, k_hw, residual, chain, chain_softmax)

    def _needs_dense_map(self, k_hw: HW, residual: Optional[Residual], chain: Optional[str],
                         chain_softmax: bool, need_attn: bool) -> bool:
        """Whether a VA layer stores its N×M map (:meth:`_explicit_attention`) rather than running the fused
        kernel (:meth:`_fused_attention`), which returns no map."""
        if need_attn or chain == 'full':  # the dense map itself is wanted
            return True
        if residual is not None and residual.basis is None:  # the residual is already dense (same key grid)
            return True
        if chain != 'pooled':
            return False
        # the map on the G×G key grid (224²) is itself the pooled chain map; and the fused kernel's dropout
        # would also drop the pooled softmax map it carries as extra values (the paper's chain)
        dropping = self.training and self.attn_drop.p > 0
        return _same_grid(k_hw, self.key_grid) or (chain_softmax and dropping)

    def _less_attention(self, x, hw: HW, kv_in, k_hw: HW, prev: Optional[ScoreMap],
                        chain: Optional[str]) -> LayerOutput:
        """LA: ``softmax(Ψ·prev·Θᵀ)·V``, no Q and no K; hands on its pre-softmax map."""
        if prev is None:
            raise RuntimeError("a less-attention layer needs the previous layer's map")
        scores = self.transform(prev.scores, hw, prev.k_hw)
        if self.la_transform == 'pooled':  # values on the same fixed key grid as the transformed map
            kv_in = pool_rows(kv_in, k_hw, self.key_grid)
            k_hw = self.key_grid
        attn = _softmax_keys(scores)
        out = self._attend(attn, self._heads(self.v(kv_in)), x.shape)
        return LayerOutput(out, ScoreMap(scores, hw, k_hw) if chain else None, attn, k_hw)

    def _explicit_attention(self, x, hw: HW, q, k, v, k_hw: HW, residual: Optional[Residual],
                            chain: Optional[str], chain_softmax: bool, need_attn: bool) -> LayerOutput:
        """VA with the N×M map stored: ``softmax(QKᵀ/√d + R)·V``; hands on the softmax map (the paper's
        chain) or the scores (ours), pooled onto the G×G key grid for a ``'pooled'`` chain."""
        scores = (q * self.scale) @ k.transpose(-1, -2)
        if residual is not None:
            r = residual.factor if residual.basis is None else residual.factor @ residual.basis.t()
            scores = scores + r
        attn = scores.softmax(dim=-1)
        out = self._attend(attn, v, x.shape)
        kept = attn if chain_softmax else scores
        if chain == 'pooled':
            kept = ScoreMap(pool_keys(kept, k_hw, self.key_grid), hw, self.key_grid)
        else:
            kept = ScoreMap(kept, hw, k_hw) if chain else None
        return LayerOutput(out, kept, attn if need_attn else None, k_hw)

    def _fused_attention(self, x, hw: HW, q, k, v, k_hw: HW, residual: Optional[Residual],
                         chain: Optional[str], chain_softmax: bool) -> LayerOutput:
        """VA through the memory-efficient ``scaled_dot_product_attention``; the N×M map is never stored.

        The residual enters as extra features, ``[Q/√d, R]·[K, U]ᵀ = QKᵀ/√d + R·Uᵀ``; a pooled chain map
        comes out as ``softmax(S)·Pᵀ`` (the key pooling P as extra values, the paper's chain) or as
        ``Q·pool_rows(K)ᵀ`` (ours, pooling is linear).
        """
        qf, kf = q * self.scale, k
        if residual is not None:
            b, h, m = k.shape[0], k.shape[1], k.shape[2]
            qf = torch.cat([qf, residual.factor.to(q.dtype)], dim=-1)
            kf = torch.cat([kf, residual.basis.to(k.dtype).expand(b, h, m, residual.basis.shape[1])], dim=-1)
        d, vf = v.shape[-1], v
        if chain == 'pooled' and chain_softmax:
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
        elif chain == 'pooled':
            kept = ScoreMap(qf @ pool_rows(kf, k_hw, self.key_grid).transpose(-1, -2), hw, self.key_grid)
        return LayerOutput(out, kept, None, k_hw)
