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
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import constant_init, normal_init, trunc_normal_init

from mmlavit.registry import register

from .lavit_attention import LaViTAttention, LayerOutput
from .lavit_layers import DWConvFFN, OverlapPatchEmbed, ResidualAttentionDownsample
from .lavit_ops import HW, ScoreMap, diagonality_loss


class StageOutput(NamedTuple):
    """What a :class:`LaViTStage` hands on: ``x`` (B, C, H, W) features; ``carry``: its last map for the
    next stage (or None); ``la_maps``: each LA block's softmax map with its grids (the DP loss's input);
    ``maps``: every block's softmax map when asked."""
    x: torch.Tensor
    carry: Optional[ScoreMap]
    la_maps: List[ScoreMap]
    maps: List[Optional[torch.Tensor]]


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

    def forward(self, x, hw: HW, prev=None, residual=None, chain=None, chain_softmax=True,
                need_attn=False) -> LayerOutput:
        """The :class:`LaViTAttention` arguments; returns its :class:`LayerOutput` with the block's tokens."""
        a = self.attn(self.norm1(x), hw, prev, residual, chain, chain_softmax, need_attn)
        x = x + self.drop_path(a.x)
        x = x + self.drop_path(self.mlp(self.norm2(x), hw))
        return LayerOutput(x, a.chain, a.attn, a.k_hw)


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
                need_attn: bool = False) -> StageOutput:
        """
        Args:
            x (Tensor): (B, C_in, H, W).
            carry (ScoreMap, optional): Last map of the previous stage. Defaults to None.
            carry_out (bool): Return this stage's last map for the next stage. Defaults to False.
            need_attn (bool): Return every block's softmax map. Defaults to False.

        Returns:
            StageOutput: features (B, C, H', W'), the last map, the LA blocks' maps, every block's map.
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
                out = cp.checkpoint(blk, *args, use_reentrant=False)
            else:
                out = blk(*args)
            x, prev = out.x, out.chain
            if blk.mode == 'la':
                la_maps.append(ScoreMap(out.attn, hw, out.k_hw))
            if need_attn:
                maps.append(out.attn)
        x = self.norm(x)
        # contiguous NCHW: the transpose leaves a channels-last view, which mmcv's CPU RoIAlign reads
        # as if it were NCHW (silently wrong RoI features, measured in tests/models/backbones)
        x = x.transpose(1, 2).reshape(b, x.shape[-1], *hw).contiguous()
        return StageOutput(x, prev if carry_out else None, la_maps, maps)


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
            softmax-normalised map) or ``'scores'`` (ours: the pre-softmax scores; its ablation and speed:
            docs/lavit_design.md). Defaults to ``'softmax'``.
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
        with_cp (bool | str): Activation checkpointing. ``True`` / ``'block'``: each block keeps only its
            inputs and recomputes the rest in backward (as mmdet's Swin); ``'ffn'`` (ours): only the FFNs'
            hidden maps are recomputed. Frozen stages are not checkpointed; gradients are the plain
            module's. What each keeps and costs: docs/lavit_design.md. Defaults to False.
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
            out = stage(x, carry, carry_out, self.record_attention)
            x, carry = out.x, out.carry
            if want_aux:
                dp_terms += [diagonality_loss(*m) for m in out.la_maps]
            self.attention_maps += [a.detach() for a in out.maps]
            if i in self.out_indices:
                outs.append(x)
        if want_aux:
            self._aux_loss = (self.dp_loss_weight * torch.stack(dp_terms).mean()) if dp_terms else None
        return tuple(outs)

    def pop_aux_losses(self) -> Dict[str, torch.Tensor]:
        """The auxiliary losses of the last training forward (``{'loss_dp': ...}``), then forget them."""
        loss, self._aux_loss = self._aux_loss, None
        return {} if loss is None else {'loss_dp': loss}
