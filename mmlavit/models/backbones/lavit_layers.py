"""The PVTv2 building blocks of LaViT (patch embedding, depth-wise-conv FFN) and the residual attention
downsampling that carries a stage's last map into the next stage (:mod:`mmlavit.models.backbones.lavit`)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer

from .lavit_ops import HW, Residual, ScoreMap, _exporting, _same_grid


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


#: The largest FFN hidden map (bytes) computed in one piece at inference on a CPU: under glibc's 32 MiB
#: ceiling for serving a block from the heap, so that the bands' blocks are reused instead of mapped anew.
BAND_BYTES = 24 << 20


class DWConvFFN(nn.Module):
    """PVTv2 feed-forward: fc -> 3×3 depth-wise conv -> GELU -> fc. ``(B, N, C) -> (B, N, C)``.

    fc1/fc2 run as 1×1 convolutions (the same weights) on the channels-last view of the tokens. Where nothing
    needs gradients, GELU runs in place on the depth-wise conv's output, and on a CPU a hidden map larger
    than :data:`BAND_BYTES` is computed in bands of rows (each with the one-row halo the 3×3 conv reads):
    the same values, without the large blocks that glibc's malloc maps afresh, and the kernel faults in and
    zeroes, on every call (docs/lavit_design.md, "Fast paths").

    Args:
        dim (int): Token channels C.
        hidden (int): Hidden channels.
        drop (float): Dropout after the activation and the last fc. Defaults to 0.
        with_cp (bool): Keep only the input and recompute the three hidden maps in backward. Defaults to
            False.
    """

    def __init__(self, dim: int, hidden: int, drop: float = 0., with_cp: bool = False):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)
        self.with_cp = with_cp

    def _hidden(self, x):  # (B, C, H, W) channels-last view -> same
        x = self.dwconv(F.conv2d(x, self.fc1.weight[:, :, None, None], self.fc1.bias))
        if x.requires_grad or _exporting():
            x = self.act(x)
        else:
            x = torch.ops.aten.gelu_(x)  # the same kernel, writing into the conv's output
        return F.conv2d(self.drop(x), self.fc2.weight[:, :, None, None], self.fc2.bias)

    def band_rows(self, x) -> int:
        """Rows per band for the channels-last view ``x`` (B, C, H, W); ``H`` (one piece) where the hidden map
        fits in :data:`BAND_BYTES`, gradients are needed, an export is traced or ``x`` is not on a CPU."""
        b, _, h, w = x.shape
        if x.requires_grad or _exporting() or x.device.type != 'cpu':
            return h
        row = b * w * self.fc1.out_features * x.element_size()
        return h if row * h <= BAND_BYTES else max(1, BAND_BYTES // row)

    def _banded(self, x, rows: int):  # (B, C, H, W) channels-last view -> same, ``rows`` output rows a band
        b, _, h, w = x.shape
        halo = self.dwconv.padding[0]
        out = x.new_empty(b, h, w, self.fc2.out_features)  # the tokens' layout
        for r0 in range(0, h, rows):
            r1 = min(r0 + rows, h)
            a, e = max(r0 - halo, 0), min(r1 + halo, h)  # input rows the band's conv reads
            y = self._hidden(x[:, :, a:e])  # rows of y at a halo from a cut are dropped below
            out[:, r0:r1] = y[:, :, r0 - a:r1 - a].permute(0, 2, 3, 1)
        return out.permute(0, 3, 1, 2)

    def forward(self, x, hw: HW):
        b, n, c = x.shape
        x = x.reshape(b, *hw, c).permute(0, 3, 1, 2)  # channels-last view: no transposing copies
        if self.with_cp and x.requires_grad:
            x = cp.checkpoint(self._hidden, x, use_reentrant=False)
        else:
            rows = self.band_rows(x)
            x = self._hidden(x) if rows >= x.shape[2] else self._banded(x, rows)
        return self.drop(x.permute(0, 2, 3, 1).reshape(b, n, c))


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
        key and the 1×1 head mixing as a grouped conv, one group per key: the same sums as the keys-in-the-
        batch form (1-5 channels per image), in wider kernels. (B, h, N, M) -> (B·M, h2, Hq', Wq')."""
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
