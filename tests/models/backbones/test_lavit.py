import os.path as osp
import warnings
from unittest import mock

import pytest
import torch
import torch.nn.functional as F

from mmlavit.models import LaViT
from mmlavit.models.backbones.lavit_attention import LaViTAttention
from mmlavit.models.backbones.lavit_layers import DWConvFFN, ResidualAttentionDownsample
from mmlavit.models.backbones.lavit_ops import (Residual, ScoreMap, diagonality_loss, key_conv, pool_keys,
                                                pool_queries, pool_rows, query_conv)


def _grid_conv_v1(scores, weight, axis, q_hw, k_hw):
    """The previous form of the local Θ/Ψ maps (k² shifted multiply-adds over the padded grid), kept
    as the reference that the conv2d rewrite (query_conv / key_conv) must equal."""
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
    out = None
    for i in range(k):
        for j in range(k):
            term = w[:, i, j].reshape(1, h, 1, 1, 1) * view(i, j)
            out = term if out is None else out + term
    return out.reshape(b, h, n, m)


PAPER = {'tiny': (10.9, 1.6), 'small': (22.4, 3.3), 'base': (39.6, 6.1)}


@pytest.mark.parametrize('arch', ['tiny', 'small', 'base'])
def test_shapes_every_variant(arch):
    m = LaViT(arch).eval()
    outs = m(torch.randn(1, 3, 64, 96))
    assert [o.shape for o in outs] == [(1, 64, 16, 24), (1, 128, 8, 12), (1, 320, 4, 6), (1, 512, 2, 3)]
    assert m.out_channels == [64, 128, 320, 512]


def test_outputs_are_contiguous_nchw_for_mmcv_roi_align():
    """mmcv's CPU RoIAlign reads its input as contiguous NCHW (open-mmlab/mmcv#2203); a channels-last
    view from the token->grid transpose gave silently wrong RoI features and a near-zero detection mAP."""
    from mmcv.ops import roi_align
    outs = LaViT('tiny').eval()(torch.randn(1, 3, 64, 96))
    assert all(o.is_contiguous() for o in outs)
    feat = outs[0].detach()
    rois = torch.tensor([[0., 4., 4., 60., 40.]])
    got = roi_align(feat, rois, (7, 7), 0.25, 2)
    # reference: sample the RoI grid with torchvision's roi_align (layout-agnostic)
    from torchvision.ops import roi_align as tv_roi_align
    want = tv_roi_align(feat, rois, (7, 7), 0.25, 2, aligned=True)
    assert torch.allclose(got, want, atol=1e-5)


def test_out_indices_and_odd_sizes():
    m = LaViT('tiny', out_indices=(1, 3)).eval()
    outs = m(torch.randn(2, 3, 67, 93))  # not multiples of the patch size
    assert [tuple(o.shape) for o in outs] == [(2, 128, 9, 12), (2, 512, 3, 3)]
    assert m.out_channels == [128, 512]
    assert LaViT('tiny', out_indices=(-1,)).out_indices == (3,)
    with pytest.raises(ValueError, match='out_indices'):
        LaViT('tiny', out_indices=(4,))


@pytest.mark.parametrize('arch', ['tiny', 'small', 'base'])
def test_params_and_flops_within_5_percent(arch):
    from mmlavit.models.backbones.flops import count_flops
    m = LaViT(arch, out_indices=(3,)).eval()
    params = (sum(p.numel() for p in m.parameters()) + 512 * 1000 + 1000) / 1e6  # + ImageNet head
    flops = count_flops(m, (torch.randn(1, 3, 224, 224),)) / 1e9
    p_ref, f_ref = PAPER[arch]
    assert abs(params - p_ref) / p_ref < 0.05, params
    assert abs(flops - f_ref) / f_ref < 0.05, flops


def test_custom_arch_dict_and_errors():
    arch = dict(embed_dims=(16, 32, 48, 64), depths=(2, 2, 2, 2), num_heads=(1, 2, 3, 4),
                mlp_ratios=(2, 2, 2, 2), sr_ratios=(4, 2, 1, 1), num_va=(1, 1, 1, 1))
    m = LaViT(arch).eval()
    assert m(torch.randn(1, 3, 32, 32))[-1].shape == (1, 64, 1, 1)
    with pytest.raises(KeyError, match='missing'):
        LaViT(dict(embed_dims=(16,)))
    with pytest.raises(KeyError, match='not one of'):
        LaViT('huge')
    with pytest.raises(ValueError, match='first'):
        LaViT(dict(arch, num_va=(0, 1, 1, 1)))


def test_la_layers_skip_score_computation():
    m = LaViT('tiny').eval()
    blocks = [b for s in m.stages for b in s.blocks]
    la = [b for b in blocks if b.mode == 'la']
    va = [b for b in blocks if b.mode == 'va']
    assert len(va) == 4 and len(la) == 6
    for b in la:  # no Q or K projections exist in an LA layer
        assert not hasattr(b.attn, 'q') and not hasattr(b.attn, 'kv')
    # count: the Q projection runs once per VA layer, the score transformation once per LA layer
    q_calls = []
    for b in va:
        b.attn.q.register_forward_hook(lambda *a: q_calls.append(1))
    with mock.patch.object(LaViTAttention, 'transform', autospec=True,
                           side_effect=LaViTAttention.transform) as tr:
        m(torch.randn(1, 3, 64, 64))
    assert len(q_calls) == 4 and tr.call_count == 6


def test_conv_transform_is_a_matrix_product_and_identity_at_init():
    torch.manual_seed(0)
    q_hw, k_hw, h = (3, 4), (2, 3), 2
    n, m = 12, 6
    scores = torch.randn(1, h, n, m)
    w = torch.randn(h, 1, 3, 3)
    # Θ along the key axis is the matrix product A·Θᵀ: applying the conv to the basis rows e_j gives the
    # rows Θe_j of Θᵀ, and the conv of any score map equals A @ Θᵀ
    basis = torch.eye(m).expand(1, h, m, m).contiguous()
    theta_t = key_conv(basis, w, k_hw)
    assert not torch.allclose(theta_t, basis)
    assert torch.allclose(key_conv(scores, w, k_hw), scores @ theta_t, atol=1e-5)
    # and Ψ along the query axis is Ψ·A
    psi_t = key_conv(basis, w, (2, 3))  # same kernel on a (2,3) grid of 6 queries
    s2 = torch.randn(1, h, 6, 5)
    assert torch.allclose(query_conv(s2, w, (2, 3)), psi_t.transpose(-1, -2) @ s2, atol=1e-5)
    # identity-initialised (delta kernel) Θ and Ψ leave the scores unchanged
    attn = LaViTAttention(8, h, sr_ratio=1, mode='la', la_transform='conv')
    assert torch.allclose(attn.transform(scores, q_hw, k_hw), scores, atol=1e-6)


def test_pooled_transform_dense_theta_on_the_fixed_key_grid():
    torch.manual_seed(0)
    h, q_hw = 2, (5, 6)
    attn = LaViTAttention(8, h, sr_ratio=1, mode='la', la_transform='pooled', key_grid=7)
    assert attn.theta.shape == (h, 49, 49)
    # 7×7 keys (every stage at 224²): pooling is the identity and Θ, Ψ start as identities
    s7 = torch.randn(1, h, 30, 49)
    assert torch.allclose(attn.transform(s7, q_hw, (7, 7)), s7, atol=1e-6)
    # larger key grids are average-pooled onto 7×7 first, then Θ is a plain dense matrix product
    s14 = torch.randn(1, h, 30, 14 * 14)
    pooled = F.avg_pool2d(s14.reshape(h, 30, 14, 14), 2).reshape(1, h, 30, 49)
    with torch.no_grad():
        attn.theta.copy_(torch.randn(h, 49, 49))
    want = query_conv(pooled @ attn.theta.transpose(-1, -2), attn.psi, q_hw)
    assert torch.allclose(attn.transform(s14, q_hw, (14, 14)), want, atol=1e-4)
    # the layer attends to the 49 pooled keys whatever the resolution
    out, kept, a, k_hw = attn(torch.randn(1, 30, 8), q_hw, prev=ScoreMap(s14, q_hw, (14, 14)), chain='pooled')
    assert kept.scores.shape == (1, h, 30, 49) and k_hw == (7, 7) and out.shape == (1, 30, 8)


class _First(torch.nn.Module):  # the attention output only (what the tracer can follow)
    def __init__(self, attn, hw, prev_k_hw=None):
        super().__init__()
        self.attn, self.hw, self.prev_k_hw = attn, hw, prev_k_hw

    def forward(self, x, prev=None):
        prev = None if prev is None else ScoreMap(prev, self.hw, self.prev_k_hw)
        return self.attn(x, self.hw, prev, chain='pooled' if prev is not None else None)[0]


@pytest.mark.parametrize('shape', [(224, 224), (512, 512), (800, 1333)])
def test_la_layer_counts_fewer_flops_than_the_va_layer_it_replaces(shape):
    """The LA layer never computes Q·Kᵀ and costs less than the VA layer at every stage and resolution
    (mmengine's counter; measured times are in docs/benchmarks.md)."""
    from mmlavit.models.backbones.flops import count_flops
    m = LaViT('tiny')
    dims, heads, srs = m.arch['embed_dims'], m.arch['num_heads'], m.arch['sr_ratios']
    for i in range(4):
        hw = (-(-shape[0] // (4 * 2 ** i)), -(-shape[1] // (4 * 2 ** i)))
        n = hw[0] * hw[1]
        k = (hw[0] // srs[i], hw[1] // srs[i]) if srs[i] > 1 else hw
        x = torch.randn(1, n, dims[i])
        va = LaViTAttention(dims[i], heads[i], srs[i], 'va').eval()
        la = LaViTAttention(dims[i], heads[i], srs[i], 'la').eval()
        prev = torch.randn(1, heads[i], n, k[0] * k[1])
        f_va = count_flops(_First(va, hw), (x,))
        f_la = count_flops(_First(la, hw, k), (x, prev))
        assert f_la < f_va, (shape, i, f_la, f_va)


@pytest.mark.parametrize('h', [1, 3])
@pytest.mark.parametrize('k', [3, 5])
@pytest.mark.parametrize('axis', ['key', 'query'])
def test_local_maps_equal_depthwise_conv2d_and_the_previous_shifted_form(axis, k, h):
    torch.manual_seed(k)
    b, q_hw, k_hw = 2, (3, 4), (2, 3)
    scores, w = torch.randn(b, h, 12, 6), torch.randn(h, 1, k, k)
    if axis == 'key':  # each query's keys as an image
        x = scores.permute(0, 2, 1, 3).reshape(b * 12, h, *k_hw)
        ref = F.conv2d(x, w, padding=k // 2, groups=h).reshape(b, 12, h, 6).permute(0, 2, 1, 3)
    else:  # each key's queries as an image
        x = scores.permute(0, 3, 1, 2).reshape(b * 6, h, *q_hw)
        ref = F.conv2d(x, w, padding=k // 2, groups=h).reshape(b, 6, h, 12).permute(0, 2, 3, 1)
    new = key_conv(scores, w, k_hw) if axis == 'key' else query_conv(scores, w, q_hw)
    assert torch.allclose(new, ref, atol=1e-5)
    assert torch.allclose(new, _grid_conv_v1(scores, w, axis, q_hw, k_hw), atol=1e-5)
    # and the gradients agree with the previous form's
    s1, w1 = scores.clone().requires_grad_(), w.clone().requires_grad_()
    s2, w2 = scores.clone().requires_grad_(), w.clone().requires_grad_()
    g = torch.randn_like(ref)
    (key_conv(s1, w1, k_hw) if axis == 'key' else query_conv(s1, w1, q_hw)).backward(g)
    _grid_conv_v1(s2, w2, axis, q_hw, k_hw).backward(g)
    assert torch.allclose(s1.grad, s2.grad, atol=1e-5) and torch.allclose(w1.grad, w2.grad, atol=1e-4)


def test_full_transform_option():
    m = LaViT('tiny', la_transform='full', img_size=64).eval()
    out = m(torch.randn(1, 3, 64, 64))
    assert out[-1].shape == (1, 512, 2, 2)
    la = next(b for s in m.stages for b in s.blocks if b.mode == 'la')
    assert la.attn.psi.shape == (1, 256, 256) and la.attn.theta.shape == (1, 4, 4)
    with pytest.raises(ValueError, match='img_size'):
        m(torch.randn(1, 3, 96, 96))
    with pytest.raises(ValueError, match='fixed img_size'):
        LaViT('tiny', la_transform='full')


@pytest.mark.parametrize('heads_inner', [False, True])
@pytest.mark.parametrize('q_hw,grid', [((8, 8), (4, 4)), ((5, 9), (3, 4)), ((56, 56), (7, 7)),
                                       ((7, 7), (7, 7))])
def test_pool_queries_equals_adaptive_pooling_of_the_permuted_map(q_hw, grid, heads_inner):
    """The DP loss pooled the query grid with adaptive_avg_pool2d over a permuted copy; now two separable
    products on views: the same values (including uneven bins) and the same gradient, for a map stored
    (B, h, N, M) and for one stored (B, N, h, M) (what query_conv and the LA softmax leave)."""
    torch.manual_seed(0)
    n = q_hw[0] * q_hw[1]
    leaf = torch.randn(2, n, 3, 6) if heads_inner else torch.randn(2, 3, n, 6)
    leaf.requires_grad_()
    attn = leaf.transpose(1, 2) if heads_inner else leaf
    old = F.adaptive_avg_pool2d(attn.permute(0, 1, 3, 2).reshape(6, 6, *q_hw), grid)
    old = old.reshape(2, 3, 6, -1).transpose(-1, -2)
    new = pool_queries(attn, q_hw, grid)
    assert torch.allclose(new, old, atol=1e-6)
    w = torch.randn_like(old)
    g_old, = torch.autograd.grad((old * w).sum(), leaf)
    g_new, = torch.autograd.grad((new * w).sum(), leaf)
    assert torch.allclose(g_new, g_old, atol=1e-6)


def test_diagonality_loss_hand_built():
    eye = torch.eye(4).reshape(1, 1, 4, 4)
    assert diagonality_loss(eye, (2, 2), (2, 2)).item() == pytest.approx(0.0)
    # P = [[.5,.5],[0,1]]: sym = 2*(.5-0)^2/2 = .25; dominance: row0 max_off .5 - diag .5 = 0, row1 0 -> 0
    p = torch.tensor([[0.5, 0.5], [0.0, 1.0]]).reshape(1, 1, 2, 2)
    assert diagonality_loss(p, (1, 2), (1, 2)).item() == pytest.approx(0.25)
    # P = [[.2,.8],[.8,.2]]: symmetric; dominance: (.8-.2)+(.8-.2) over 2 rows = .6
    p = torch.tensor([[0.2, 0.8], [0.8, 0.2]]).reshape(1, 1, 2, 2)
    assert diagonality_loss(p, (1, 2), (1, 2)).item() == pytest.approx(0.6)
    # queries on a finer grid are pooled onto the key grid: 4x4 queries -> 2x2 keys
    attn = torch.zeros(1, 1, 16, 4)
    for qi in range(16):
        r, c = divmod(qi, 4)
        attn[0, 0, qi, (r // 2) * 2 + c // 2] = 1.0  # every query attends to its own key cell
    assert diagonality_loss(attn, (4, 4), (2, 2)).item() == pytest.approx(0.0, abs=1e-6)


def test_dp_loss_and_gradients_and_ablations():
    x = torch.randn(2, 3, 64, 64)
    m = LaViT('tiny', drop_path_rate=0.)
    m.init_weights()
    m.train()
    out = m(x)
    loss = m.pop_aux_losses()['loss_dp']
    assert loss.ndim == 0 and 0 <= loss.item() <= 0.3
    (out[-1].mean() + loss).backward()
    la = next(b for s in m.stages for b in s.blocks if b.mode == 'la')
    assert la.attn.theta.grad is not None and la.attn.theta.grad.abs().sum() > 0
    assert m.pop_aux_losses() == {}
    # no DP loss when weight is 0 or in eval
    m0 = LaViT('tiny', dp_loss_weight=0.).train()
    m0(x)
    assert m0.pop_aux_losses() == {}
    # all-attention twin: every layer is VA, more parameters, no LA transform
    twin = LaViT('tiny', all_attention=True)
    assert all(b.mode == 'va' for s in twin.stages for b in s.blocks)
    assert sum(p.numel() for p in twin.parameters()) > sum(p.numel() for p in m.parameters())
    # residual attention downsampling off: no downsampling modules, and the output no longer depends on it
    noraw = LaViT('tiny', residual_attention=False)
    assert all(s.attn_downsample is None for s in noraw.stages)
    assert m.stages[0].attn_downsample is None and all(s.attn_downsample is not None for s in m.stages[1:])
    m.eval()
    ref = m(x)[-1]
    with torch.no_grad():
        for s in m.stages[1:]:
            s.attn_downsample.scale.zero_()
    assert not torch.allclose(ref, m(x)[-1])


def test_unconsumed_dp_loss_warns():
    m = LaViT('tiny').train()
    m(torch.randn(1, 3, 32, 32))
    with pytest.warns(UserWarning, match='AuxiliaryLossHook'):
        m(torch.randn(1, 3, 32, 32))


def test_frozen_stages_get_no_gradient_and_stay_eval():
    m = LaViT('tiny', frozen_stages=2)
    m.train()
    assert not m.stages[0].training and not m.stages[1].patch_embed.training and m.stages[2].training
    out = m(torch.randn(1, 3, 64, 64))
    (out[-1].sum() + m.pop_aux_losses()['loss_dp']).backward()
    assert all(p.grad is None for p in m.stages[1].parameters())
    assert all(p.grad is None for p in m.stages[1].attn_downsample.parameters())
    assert any(p.grad is not None for p in m.stages[2].parameters())


def test_activation_checkpointing_same_result():
    torch.manual_seed(0)
    a = LaViT('tiny', drop_path_rate=0., dp_loss_weight=0.)
    b = LaViT('tiny', drop_path_rate=0., dp_loss_weight=0., with_cp=True)
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 3, 64, 64, requires_grad=True)
    ya, yb = a(x)[-1], b(x)[-1]
    assert torch.allclose(ya, yb, atol=1e-5)
    ga = torch.autograd.grad(ya.sum(), x)[0]
    gb = torch.autograd.grad(yb.sum(), x)[0]
    assert torch.allclose(ga, gb, atol=1e-4)


def test_pretrained_init_cfg_with_prefix(tmp_path):
    src = LaViT('tiny')
    ckpt = {'state_dict': {f'backbone.{k}': v for k, v in src.state_dict().items()}}
    torch.save(ckpt, tmp_path / 'cls.pth')
    dst = LaViT('tiny', init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'cls.pth'),
                                      prefix='backbone.'))
    dst.init_weights()
    for k, v in src.state_dict().items():
        assert torch.equal(v, dst.state_dict()[k]), k


def test_detection_resolution_runs():
    m = LaViT('tiny', out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        outs = m(torch.randn(1, 3, 200, 333))  # a 4x-downscaled 800x1333 keeps the test fast
    assert [o.shape[-2:] for o in outs] == [(50, 84), (25, 42), (13, 21), (7, 11)]


FIXTURE = osp.join(osp.dirname(__file__), 'fixtures', 'lavit_v1_fixture.pth')


def _v1_kwargs(d):
    """The fixture's module was built before la_chain existed: its chain was ours, 'scores'."""
    return dict(d['kwargs'], la_chain='scores')


def _fixture():
    d = torch.load(FIXTURE)
    x = torch.randn(*d['input_shape'], generator=torch.Generator().manual_seed(d['input_seed']))
    return d, {k: v.float() if v.is_floating_point() else v for k, v in d['state_dict'].items()}, x


def test_version1_checkpoint_loads_into_the_stage_tree_and_gives_its_outputs():
    """A state dict saved by the pre-LaViTStage module (parallel lists patch_embeds.i / stages.i.j / norms.i /
    attn_downsamples.(i-1); tests/models/backbones/fixtures/make_lavit_v1_fixture.py at commit 0b990b7),
    with its outputs: the rewritten operators and the new tree reproduce them."""
    d, sd, x = _fixture()
    assert any(k.startswith('attn_downsamples.') for k in sd)
    assert any(k.startswith('patch_embeds.') for k in sd)
    m = LaViT(d['arch'], **_v1_kwargs(d))
    assert m.load_state_dict(sd, strict=True)  # all keys matched after the upgrade hook
    assert torch.equal(m.stages[2].attn_downsample.down.weight, sd['attn_downsamples.1.down.weight'])
    assert torch.equal(m.stages[1].blocks[1].attn.theta, sd['stages.1.1.attn.theta'])
    m.eval()
    with torch.no_grad():
        outs = m(x)
    for got, want in zip(outs, d['outputs']):
        assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()
    m.train()
    m(x)
    assert m.pop_aux_losses()['loss_dp'].item() == pytest.approx(d['loss_dp'].item(), rel=1e-4)
    # through mmengine's Pretrained init with a prefix (the checkpoint carries no version metadata)
    new = m.state_dict()
    assert new._metadata[''].get('version') == 3
    assert all(k.startswith('stages.') for k in new)


def test_checkpoints_from_before_the_paper_chain_default_warn():
    """Version ≤ 2 checkpoints were trained with the former default la_chain='scores': loading one into the
    paper's chain says so; with la_chain='scores', or a version-3 checkpoint, nothing is said."""
    d, sd, _ = _fixture()
    with pytest.warns(UserWarning, match="la_chain='scores'"):  # version 1: the old key names tell
        LaViT(d['arch'], **d['kwargs']).load_state_dict(dict(sd))
    v2 = LaViT(d['arch'], **_v1_kwargs(d))
    v2.load_state_dict(dict(sd))
    old = v2.state_dict()
    old._metadata[''] = {'version': 2}
    with pytest.warns(UserWarning, match='version 2'):
        LaViT(d['arch'], **d['kwargs']).load_state_dict(old)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        LaViT(d['arch'], **_v1_kwargs(d)).load_state_dict(old)  # built as it was trained
        new = LaViT(d['arch'], **d['kwargs'])
        new.load_state_dict(new.state_dict())  # version 3


def test_version1_checkpoint_through_pretrained_init_with_prefix(tmp_path):
    d, sd, x = _fixture()
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in sd.items()}}, tmp_path / 'v1.pth')
    init = dict(type='Pretrained', checkpoint=str(tmp_path / 'v1.pth'), prefix='backbone.')
    m = LaViT(d['arch'], **_v1_kwargs(d), init_cfg=init)
    m.init_weights()
    m.eval()
    with torch.no_grad():
        assert torch.allclose(m(x)[-1], d['outputs'][-1], atol=1e-5)


@pytest.mark.parametrize('la_chain', ['scores', 'softmax'])
def test_va_layers_that_hand_on_nothing_run_fused(la_chain):
    """A VA layer followed by a VA layer (the twin; stage 2 of S and B) needs no map under either chain: it
    must run through scaled_dot_product_attention, never the explicit N×M map (a regression once made the
    paper's chain send every such layer down the explicit path)."""
    m = LaViT('tiny', all_attention=True, la_chain=la_chain, drop_path_rate=0.).eval()
    with mock.patch('torch.nn.functional.scaled_dot_product_attention',
                    side_effect=F.scaled_dot_product_attention) as sdpa, torch.no_grad():
        m(torch.randn(1, 3, 64, 64))
    # 10 layers; explicit: the last of stages 0-2 (they hand their full map to the next stage) and the first
    # of stages 1-3 (at 64² the key grid does not change, so their residual is already dense): 4 fused
    assert sdpa.call_count == 4


@pytest.mark.parametrize('la_chain', ['scores', 'softmax'])
def test_fused_attention_paths_equal_the_explicit_maps(la_chain):
    """Where no dense map is needed the VA layer runs the residual as extra features through
    scaled_dot_product_attention and hands on the pooled map as q·pool(k)ᵀ; recording the maps forces the
    explicit path (dense QKᵀ + bilinear residual, pooled afterwards): same outputs, same DP loss. The paper's
    chain gets its pooled softmax map as softmax(S)·Pᵀ from extra value columns."""
    torch.manual_seed(0)
    m = LaViT('tiny', drop_path_rate=0., la_chain=la_chain)
    m.init_weights()
    with torch.no_grad():
        for n, p in m.named_parameters():
            if n.endswith(('theta', 'psi', 'scale')):
                p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(1, 3, 160, 224)  # stage-0 keys 5×7 ≠ the 7×7 grid: fused VA, factored residuals
    m.eval()
    with torch.no_grad():
        fast = m(x)
        m.record_attention = True
        slow = m(x)
    assert len(m.attention_maps) == 10
    for a, b in zip(fast, slow):
        assert torch.allclose(a, b, atol=1e-4), (a - b).abs().max()
    # gradients as well
    m.train()
    m.record_attention = False
    w = m.stages[1].blocks[0].attn.q.weight
    g1 = torch.autograd.grad(m(x)[-1].sum() + m.pop_aux_losses()['loss_dp'], w)
    m.record_attention = True
    g2 = torch.autograd.grad(m(x)[-1].sum() + m.pop_aux_losses()['loss_dp'], w)
    assert torch.allclose(g1[0], g2[0], atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize('b,hw', [(2, (7, 9)), (1, (16, 16))])
def test_ffn_as_1x1_convolutions_equals_the_linear_layers(b, hw):
    """fc1/fc2 run as 1×1 convolutions on the channels-last view of the tokens; the plain form applies the
    linear layers to the (B, N, C) tokens: same output and gradients (input and every weight); the in-place
    GELU of inference gives the same output."""
    torch.manual_seed(0)
    f = DWConvFFN(16, 48)
    x = torch.randn(b, hw[0] * hw[1], 16, requires_grad=True)

    def plain(x):
        y = f.fc1(x)
        y = f.dwconv(y.transpose(1, 2).reshape(b, 48, *hw)).flatten(2).transpose(1, 2)
        return f.fc2(F.gelu(y))
    w = torch.randn(b, hw[0] * hw[1], 16)
    params = [x, f.fc1.weight, f.fc1.bias, f.dwconv.weight, f.fc2.weight, f.fc2.bias]
    got, want = f(x, hw), plain(x)
    assert torch.allclose(got, want, atol=1e-5)
    for g_got, g_want in zip(torch.autograd.grad((got * w).sum(), params),
                             torch.autograd.grad((want * w).sum(), params)):
        assert torch.allclose(g_got, g_want, atol=1e-4)
    with torch.no_grad():
        assert torch.equal(f(x, hw), got.detach())


@pytest.mark.parametrize('b,hw,rows', [(1, (10, 7), 3), (2, (9, 5), 1), (1, (8, 6), 4)])
def test_ffn_row_bands_equal_one_piece(b, hw, rows, monkeypatch):
    """At inference on a CPU, a hidden map larger than BAND_BYTES is computed in bands of ``rows`` rows (the
    last one shorter, or one row each: both halo rows cut); the same values as one piece. Gradients,
    exports and the maps under the limit take one piece."""
    from mmlavit.models.backbones import lavit_layers
    torch.manual_seed(0)
    f = DWConvFFN(16, 48).eval()
    x = torch.randn(b, hw[0] * hw[1], 16)
    with torch.no_grad():
        whole = f(x, hw)
        row_bytes = b * hw[1] * 48 * 4
        monkeypatch.setattr(lavit_layers, 'BAND_BYTES', rows * row_bytes)
        view = x.reshape(b, *hw, 16).permute(0, 3, 1, 2)
        assert f.band_rows(view) == rows
        banded = f(x, hw)
    assert banded.shape == whole.shape and banded.is_contiguous()
    assert torch.allclose(banded, whole, atol=1e-6, rtol=1e-6)
    assert f.band_rows(view.requires_grad_()) == hw[0]  # training: one piece (autograd keeps the map)
    monkeypatch.setattr(lavit_layers, '_exporting', lambda: True)
    assert f.band_rows(view.detach()) == hw[0]  # export: one graph for every size


def test_lavit_with_ffn_row_bands_gives_the_same_maps(monkeypatch):
    from mmlavit.models.backbones import lavit_layers
    torch.manual_seed(0)
    m = LaViT('tiny-lowsr', drop_path_rate=0.).eval()
    x = torch.randn(1, 3, 96, 64)
    with torch.no_grad():
        ref = m(x)
        monkeypatch.setattr(lavit_layers, 'BAND_BYTES', 4096)  # every stage's FFN in bands
        got = m(x)
    for r, g in zip(ref, got):
        assert torch.allclose(r, g, atol=1e-5 * r.abs().max().item())


def test_pooling_keys_commutes_with_the_product():
    q, k = torch.randn(2, 3, 10, 8), torch.randn(2, 3, 5 * 9, 8)
    assert torch.allclose(pool_keys(q @ k.transpose(-1, -2), (5, 9), (3, 4)),
                          q @ pool_rows(k, (5, 9), (3, 4)).transpose(-1, -2), atol=1e-5)


def test_projection_folded_into_the_values_equals_proj_of_attention_output():
    torch.manual_seed(0)
    # (h, C, M, N): folded where M·C + N·h·M < N·(M + C) (the first two), plain where not (N = M, the
    # last stage at 224²)
    for h, c, m, n in [(1, 16, 49, 200), (4, 32, 6, 50), (8, 64, 49, 49)]:
        attn = LaViTAttention(c, h, mode='la')
        a = torch.randn(2, h, n, m).softmax(-1)
        v = torch.randn(2, h, m, c // h)
        want = attn.proj((a @ v).transpose(1, 2).reshape(2, n, c))
        assert torch.allclose(attn._attend(a, v, (2, n, c)), want, atol=1e-5)


def test_factored_residual_equals_the_previous_dense_downsample():
    """The previous form resampled the key grid of every downsampled map bilinearly; now the resampling
    is a basis U and the residual is factor·Uᵀ."""
    torch.manual_seed(0)
    d = ResidualAttentionDownsample(2, 4)
    scores, q_hw, k_hw, new_q, new_k = torch.randn(1, 2, 8 * 10, 49), (8, 10), (7, 7), (4, 5), (3, 9)
    res = d(ScoreMap(scores, q_hw, k_hw), new_q, new_k)
    x = d.mix(d.down(scores.permute(0, 3, 1, 2).reshape(49, 2, *q_hw)))
    x = x.reshape(1, 49, 4, -1).permute(0, 3, 2, 1)
    n2 = x.shape[1]
    old = F.interpolate(x.reshape(n2, 4, *k_hw), size=new_k, mode='bilinear', align_corners=False)
    old = d.scale * old.reshape(1, n2, 4, -1).permute(0, 2, 1, 3)
    assert isinstance(res, Residual) and res.basis.shape == (27, 49)
    assert torch.allclose(res.factor @ res.basis.t(), old, atol=1e-5)
    assert torch.allclose(res.basis.sum(-1), torch.ones(27))  # rows sum to 1: biases pass unchanged


def test_paper_chain_hands_the_softmax_map_to_the_la_layers():
    """la_chain='softmax' (the paper's): with identity Θ/Ψ at 7×7 keys the first LA layer's pre-softmax map
    is the VA layer's softmax map; with 'scores' (ours) it is the VA scores, so both layers attend alike."""
    x = torch.randn(1, 3, 224, 224)
    maps = {}
    for chain in ('softmax', 'scores'):
        torch.manual_seed(0)
        m = LaViT('tiny', la_chain=chain, drop_path_rate=0.).eval()
        m.record_attention = True
        with torch.no_grad():
            m(x)
        maps[chain] = m.attention_maps[:2]  # stage 0: VA, LA
    va, la = maps['softmax']
    assert torch.allclose(la, va.softmax(-1), atol=1e-6)
    va, la = maps['scores']
    assert torch.allclose(la, va, atol=1e-5)
    with pytest.raises(ValueError, match='la_chain'):
        LaViT('tiny', la_chain='probs')


def _train_small(steps=3, **kw):
    torch.manual_seed(0)
    m = LaViT('tiny-lowsr', drop_path_rate=0., **kw)
    m.init_weights()
    head = torch.nn.Linear(512, 4)
    opt = torch.optim.AdamW(list(m.parameters()) + list(head.parameters()), lr=1e-3)
    x, y = torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 2, 3])
    m.train()
    for _ in range(steps):
        loss = F.cross_entropy(head(m(x)[-1].mean((2, 3))), y) + m.pop_aux_losses()['loss_dp']
        opt.zero_grad()
        loss.backward()
        opt.step()
    return m, head, x, y


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_amp_losses_and_gradients_finite_after_training(dtype):
    m, head, x, y = _train_small()
    with torch.autocast('cpu', dtype=dtype):
        loss = F.cross_entropy(head(m(x)[-1].mean((2, 3))), y) + m.pop_aux_losses()['loss_dp']
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in m.parameters() if p.grad is not None]
    assert len(grads) > 100 and all(torch.isfinite(g).all() for g in grads)


def test_torch_compile_forward_and_backward():
    dynamo = pytest.importorskip('torch._dynamo')
    dynamo.reset()  # LaViT code compiled earlier in this process would be guarded against and recompiled
    torch.manual_seed(0)
    # three stages of one VA and one LA layer: every form a layer, a stage and the residual attention
    # downsampling take (graph capture time grows with the number of layers, not their width)
    arch = dict(embed_dims=(16, 32, 64), depths=(2, 2, 2), num_heads=(1, 2, 4), mlp_ratios=(2, 2, 2),
                sr_ratios=(4, 2, 1), num_va=(1, 1, 1))
    m = LaViT(arch, out_indices=(0, 1, 2), drop_path_rate=0.).train()
    x = torch.randn(2, 3, 64, 64)
    ref = m(x)[-1]
    ref_dp = m.pop_aux_losses()['loss_dp']
    cm = torch.compile(m, backend='aot_eager')  # graph capture + autograd; benchmark_gpu.py times inductor
    out = cm(x)[-1]
    assert torch.allclose(out, ref, atol=1e-5)
    dp = m.pop_aux_losses()['loss_dp']
    assert torch.allclose(dp, ref_dp, atol=1e-6)
    (out.sum() + dp).backward()
    assert m.stages[0].blocks[1].attn.theta.grad is not None


def test_flop_count_sees_fused_attention():
    from mmlavit.models.backbones.flops import count_flops

    class Sdpa(torch.nn.Module):
        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v)

    q, k, v = torch.randn(2, 3, 10, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 5)
    assert count_flops(Sdpa(), (q, k, v)) == 2 * 3 * 10 * 7 * (8 + 5)
