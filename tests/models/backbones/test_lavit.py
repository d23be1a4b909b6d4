import math
from unittest import mock

import pytest
import torch
import torch.nn.functional as F

from mmlavit.models import LaViT
from mmlavit.models.backbones.lavit import LaViTAttention, _grid_conv, diagonality_loss

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
    from mmengine.analysis import get_model_complexity_info
    m = LaViT(arch, out_indices=(3,)).eval()
    params = (sum(p.numel() for p in m.parameters()) + 512 * 1000 + 1000) / 1e6  # + ImageNet head
    flops = get_model_complexity_info(m, input_shape=(3, 224, 224), show_table=False,
                                      show_arch=False)['flops'] / 1e9
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
    blocks = [b for s in m.stages for b in s]
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
    theta_t = _grid_conv(basis, w, 'key', (m, 1), k_hw)
    assert not torch.allclose(theta_t, basis)
    assert torch.allclose(_grid_conv(scores, w, 'key', q_hw, k_hw), scores @ theta_t, atol=1e-5)
    # and Ψ along the query axis is Ψ·A
    psi_t = _grid_conv(basis, w, 'key', (m, 1), (2, 3))  # same kernel on a (2,3) grid of 6 queries
    s2 = torch.randn(1, h, 6, 5)
    assert torch.allclose(_grid_conv(s2, w, 'query', (2, 3), (1, 5)), psi_t.transpose(-1, -2) @ s2, atol=1e-5)
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
    want = _grid_conv(pooled @ attn.theta.transpose(-1, -2), attn.psi, 'query', q_hw, (7, 7))
    assert torch.allclose(attn.transform(s14, q_hw, (14, 14)), want, atol=1e-4)
    # the layer attends to the 49 pooled keys whatever the resolution
    out, scores, a, k_hw = attn(torch.randn(1, 30, 8), q_hw, prev=s14, prev_k_hw=(14, 14))
    assert scores.shape == (1, h, 30, 49) and k_hw == (7, 7) and out.shape == (1, 30, 8)


class _First(torch.nn.Module):  # the attention output only (what the tracer can follow)
    def __init__(self, attn, hw, prev_k_hw=None):
        super().__init__()
        self.attn, self.hw, self.prev_k_hw = attn, hw, prev_k_hw

    def forward(self, x, prev=None):
        return self.attn(x, self.hw, prev, None, self.prev_k_hw)[0]


@pytest.mark.parametrize('shape', [(224, 224), (512, 512), (800, 1333)])
def test_la_layer_counts_fewer_flops_than_the_va_layer_it_replaces(shape):
    """The LA layer never computes Q·Kᵀ and costs less than the VA layer at every stage and resolution
    (mmengine's counter; measured times are in docs/benchmarks.md)."""
    from mmengine.analysis import FlopAnalyzer
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
        f_va = FlopAnalyzer(_First(va, hw), (x,)).unsupported_ops_warnings(False).total()
        f_la = FlopAnalyzer(_First(la, hw, k), (x, prev)).unsupported_ops_warnings(False).total()
        assert f_la < f_va, (shape, i, f_la, f_va)


@pytest.mark.parametrize('k', [3, 5])
@pytest.mark.parametrize('axis', ['key', 'query'])
def test_grid_conv_equals_depthwise_conv2d(axis, k):
    torch.manual_seed(k)
    b, h, q_hw, k_hw = 2, 3, (3, 4), (2, 3)
    scores, w = torch.randn(b, h, 12, 6), torch.randn(h, 1, k, k)
    if axis == 'key':  # each query's keys as an image
        x = scores.permute(0, 2, 1, 3).reshape(b * 12, h, *k_hw)
        ref = F.conv2d(x, w, padding=k // 2, groups=h).reshape(b, 12, h, 6).permute(0, 2, 1, 3)
    else:  # each key's queries as an image
        x = scores.permute(0, 3, 1, 2).reshape(b * 6, h, *q_hw)
        ref = F.conv2d(x, w, padding=k // 2, groups=h).reshape(b, 6, h, 12).permute(0, 2, 3, 1)
    assert torch.allclose(_grid_conv(scores, w, axis, q_hw, k_hw), ref, atol=1e-5)


def test_full_transform_option():
    m = LaViT('tiny', la_transform='full', img_size=64).eval()
    out = m(torch.randn(1, 3, 64, 64))
    assert out[-1].shape == (1, 512, 2, 2)
    la = next(b for s in m.stages for b in s if b.mode == 'la')
    assert la.attn.psi.shape == (1, 256, 256) and la.attn.theta.shape == (1, 4, 4)
    with pytest.raises(ValueError, match='img_size'):
        m(torch.randn(1, 3, 96, 96))
    with pytest.raises(ValueError, match='fixed img_size'):
        LaViT('tiny', la_transform='full')


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
    la = next(b for s in m.stages for b in s if b.mode == 'la')
    assert la.attn.theta.grad is not None and la.attn.theta.grad.abs().sum() > 0
    assert m.pop_aux_losses() == {}
    # no DP loss when weight is 0 or in eval
    m0 = LaViT('tiny', dp_loss_weight=0.).train()
    m0(x)
    assert m0.pop_aux_losses() == {}
    # all-attention twin: every layer is VA, more parameters, no LA transform
    twin = LaViT('tiny', all_attention=True)
    assert all(b.mode == 'va' for s in twin.stages for b in s)
    assert sum(p.numel() for p in twin.parameters()) > sum(p.numel() for p in m.parameters())
    # residual attention downsampling off: no downsampling modules, and the output no longer depends on it
    noraw = LaViT('tiny', residual_attention=False)
    assert len(noraw.attn_downsamples) == 0 and len(m.attn_downsamples) == 3
    m.eval()
    ref = m(x)[-1]
    with torch.no_grad():
        for d in m.attn_downsamples:
            d.scale.zero_()
    assert not torch.allclose(ref, m(x)[-1])


def test_unconsumed_dp_loss_warns():
    m = LaViT('tiny').train()
    m(torch.randn(1, 3, 32, 32))
    with pytest.warns(UserWarning, match='AuxiliaryLossHook'):
        m(torch.randn(1, 3, 32, 32))


def test_frozen_stages_get_no_gradient_and_stay_eval():
    m = LaViT('tiny', frozen_stages=2)
    m.train()
    assert not m.stages[0].training and not m.patch_embeds[1].training and m.stages[2].training
    out = m(torch.randn(1, 3, 64, 64))
    (out[-1].sum() + m.pop_aux_losses()['loss_dp']).backward()
    assert all(p.grad is None for p in m.stages[1].parameters())
    assert all(p.grad is None for p in m.attn_downsamples[0].parameters())
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
    dst = LaViT('tiny', init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'cls.pth'), prefix='backbone.'))
    dst.init_weights()
    for k, v in src.state_dict().items():
        assert torch.equal(v, dst.state_dict()[k]), k


def test_detection_resolution_runs():
    m = LaViT('tiny', out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        outs = m(torch.randn(1, 3, 200, 333))  # a 4x-downscaled 800x1333 keeps the test fast
    assert [o.shape[-2:] for o in outs] == [(50, 84), (25, 42), (13, 21), (7, 11)]
