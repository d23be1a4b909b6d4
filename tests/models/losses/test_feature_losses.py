"""CWD, PKD, the feature MSE and the multi-level wrapper: hand-computed values (derivations in the comments),
gradients, zero when equal, several levels, and the shape errors that name the connector to add."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmlavit.models.losses import (ChannelWiseDivergence, FeatureMSELoss, MultiLevelLoss, PKDLoss, TRGLoss,
                                   channel_wise_divergence, standardize_channels)
from mmlavit.models.losses.multi_level import connector_hint

L3 = math.log(3)


def _map(*values, c=1):
    """A (1, c, 1, W) map from one channel's values (repeated over c channels)."""
    return torch.tensor(values, dtype=torch.float64).reshape(1, 1, 1, -1).repeat(1, c, 1, 1)


# --- CWD ---------------------------------------------------------------------------------------------------

def test_cwd_hand_computed_and_temperature():
    s, t = _map(0., 0.), _map(L3, 0.)
    # τ = 1: p_S = [1/2, 1/2], p_T = [3/4, 1/4] over the two positions; N·C = 1
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert ChannelWiseDivergence(tau=1.0)(s, t).item() == pytest.approx(kl, rel=1e-9)
    # τ = 2: p_T = softmax([ln3/2, 0]) = [√3, 1]/(√3 + 1); times τ² = 4
    a = math.sqrt(3) / (math.sqrt(3) + 1)
    kl2 = a * math.log(a / 0.5) + (1 - a) * math.log((1 - a) / 0.5)
    assert ChannelWiseDivergence(tau=2.0)(s, t).item() == pytest.approx(4 * kl2, rel=1e-9)
    # averaged over N·C: a second channel that agrees halves the value; loss_weight multiplies
    s2, t2 = torch.cat([s, s], 1), torch.cat([t, s], 1)
    assert ChannelWiseDivergence(loss_weight=3.0)(s2, t2).item() == pytest.approx(3 * kl / 2, rel=1e-9)
    # and a second image with the same channel leaves it unchanged
    assert ChannelWiseDivergence()(s.repeat(2, 1, 1, 1), t.repeat(2, 1, 1, 1)).item() == pytest.approx(kl)


def test_cwd_softmax_is_over_space_per_channel_against_kl_div():
    torch.manual_seed(0)
    s, t = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
    tau = 4.0
    ref = F.kl_div(F.log_softmax(s.reshape(6, 20) / tau, 1), F.log_softmax(t.reshape(6, 20) / tau, 1),
                   reduction='sum', log_target=True) * tau ** 2 / 6
    assert torch.allclose(channel_wise_divergence(s, t, tau), ref, atol=1e-6)
    # a constant added to a channel does not change its spatial distribution
    assert torch.allclose(channel_wise_divergence(s + torch.randn(2, 3, 1, 1), t, tau), ref, atol=1e-5)


def test_cwd_gradient_zero_when_equal_and_teacher_detached():
    s = _map(0., 0.).requires_grad_()
    t = _map(L3, 0.).requires_grad_()
    ChannelWiseDivergence()(s, t).backward()
    # dKL/ds = (p_S − p_T)/(N·C) at τ = 1: [1/2 − 3/4, 1/2 − 1/4]
    assert torch.allclose(s.grad.flatten(), torch.tensor([-0.25, 0.25], dtype=torch.float64))
    assert t.grad is None
    x = torch.randn(2, 3, 4, 4)
    assert ChannelWiseDivergence(tau=2.0)(x, x.clone()).item() == pytest.approx(0.0, abs=1e-6)


# --- PKD ---------------------------------------------------------------------------------------------------

def test_pkd_hand_computed_is_one_minus_pearson():
    # one channel, values s = [1, 2, 3], t = [1, 3, 2]: both mean 2, population std √(2/3);
    # ŝ = [−1, 0, 1]/√(2/3), t̂ = [−1, 1, 0]/√(2/3); (ŝ − t̂)² sums to 2/(2/3) = 3, mean 1, half 0.5;
    # Pearson r = (1·1 + 0 + 0)/3 / (2/3) = 1/2, so 1 − r = 0.5
    s, t = _map(1., 2., 3.), _map(1., 3., 2.)
    assert PKDLoss()(s, t).item() == pytest.approx(0.5, rel=1e-5)
    # magnitude does not matter: the teacher ×10 + 5 gives the same value
    assert PKDLoss()(s, 10 * t + 5).item() == pytest.approx(0.5, rel=1e-5)
    # a second channel that agrees: the mean over all elements halves it; loss_weight multiplies
    s2, t2 = torch.cat([s, s], 1), torch.cat([t, s], 1)
    assert PKDLoss(loss_weight=6.0)(s2, t2).item() == pytest.approx(6 * 0.25, rel=1e-5)
    # each channel standardised over N·H·W: zero mean, unit population variance per channel
    x = standardize_channels(torch.randn(3, 4, 5, 6) * 7 + 2)
    assert torch.allclose(x.mean((0, 2, 3)), torch.zeros(4), atol=1e-5)
    assert torch.allclose(x.var((0, 2, 3), unbiased=False), torch.ones(4), atol=1e-4)


def test_pkd_channels_standardised_over_the_batch_not_per_image():
    # two images, one value each per channel: over N·H·W the channel is [0, 2] -> [−1, 1]; per image it
    # would be undefined (one value). Student [0, 2], teacher [2, 0]: r = −1 -> 1 − r = 2
    s = torch.tensor([0., 2.]).reshape(2, 1, 1, 1)
    assert PKDLoss()(s, s.flip(0)).item() == pytest.approx(2.0, rel=1e-5)


def test_pkd_multi_level_sum_with_weights_and_gradient():
    s1, t1 = _map(1., 2., 3.), _map(1., 3., 2.)  # 0.5 (above)
    s2 = _map(0., 1.)  # equal on level 2 -> 0; anti-correlated on level 3: r = −1 -> 2
    levels_s, levels_t = (s1, s2, s2), (t1, s2, _map(1., 0.))
    assert PKDLoss()(levels_s, levels_t).item() == pytest.approx(0.5 + 0 + 2, rel=1e-5)
    assert PKDLoss(level_weights=[2, 1, 0.5])(levels_s, levels_t).item() == pytest.approx(1 + 0 + 1, rel=1e-5)
    torch.manual_seed(0)
    s = torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    t = torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: PKDLoss()(a, t), (s,))
    PKDLoss()(s, t).backward()
    assert t.grad is None and s.grad.abs().sum() > 0
    assert PKDLoss()(s.detach(), s.detach().clone()).item() == pytest.approx(0.0, abs=1e-9)


# --- feature MSE ---------------------------------------------------------------------------------------

def test_feature_mse_hand_computed_reductions_gradient():
    s = torch.tensor([[1., 2.], [0., 1.]]).reshape(2, 2, 1, 1).requires_grad_()
    t = torch.zeros(2, 2, 1, 1, requires_grad=True)
    # mean over the 4 elements: (1 + 4 + 0 + 1)/4 = 1.5; 'batchsum': per sample 5 and 1, mean 3
    assert FeatureMSELoss()(s, t).item() == pytest.approx(1.5)
    assert FeatureMSELoss(reduction='batchsum', loss_weight=0.5)(s, t).item() == pytest.approx(1.5)
    FeatureMSELoss()(s, t).backward()
    assert torch.allclose(s.grad, 2 * s.detach() / 4) and t.grad is None  # d mean((s−t)²)/ds = 2(s−t)/4
    assert FeatureMSELoss()(s, s.detach().clone()).item() == 0.0
    # two levels, weights 1 and 0.5
    assert FeatureMSELoss(level_weights=[1, 0.5])((s, s), (t, t)).item() == pytest.approx(1.5 + 0.75)
    with pytest.raises(ValueError, match='reduction'):
        FeatureMSELoss(reduction='sum')


# --- shapes and levels -------------------------------------------------------------------------------------

@pytest.mark.parametrize('loss', [ChannelWiseDivergence(), PKDLoss(), FeatureMSELoss()])
def test_shape_mismatch_names_the_connector_never_resizes(loss):
    s, t = torch.randn(2, 64, 8, 8), torch.randn(2, 256, 16, 16)
    with pytest.raises(ValueError, match=r"ChannelAdapter', in_channels=64, out_channels=256.*SpatialResize"):
        loss(s, t)
    with pytest.raises(ValueError, match=r'levels'):
        loss((s, s), (s,))
    with pytest.raises(ValueError, match=r'level_weights has 1 entries for 2 levels'):
        type(loss)(level_weights=[1.0])((s, s), (s, s))
    # the distiller's hook names the recorders, the level, both shapes and the loss input to change
    with pytest.raises(ValueError) as e:
        loss.check_inputs(dict(student=(s, s), teacher=(s, t)), 'model.losses.loss_x', 'WHERE')
    msg = str(e.value)
    assert msg.startswith('WHERE: level 1:') and '(2, 64, 8, 8)' in msg and '(2, 256, 16, 16)' in msg
    assert 'model.loss_inputs.loss_x.student' in msg
    loss.check_inputs(dict(student=(s, t), teacher=(s, t)), 'model.losses.loss_x', 'WHERE')  # fits: silent


def test_connector_hint():
    assert 'SpatialResize' in connector_hint((2, 8, 4, 4), (2, 8, 8, 8))
    assert 'ChannelAdapter' not in connector_hint((2, 8, 4, 4), (2, 8, 8, 8))
    assert 'no connector' in connector_hint((2, 8, 4, 4), (3, 8, 4, 4))


def test_multi_level_wrapper_sums_terms_per_key_and_passes_on_progress_and_checks():
    torch.manual_seed(0)
    s, t = [torch.randn(2, 4, 3, 3) for _ in range(2)], [torch.randn(2, 4, 3, 3) for _ in range(2)]
    wrapped = MultiLevelLoss(dict(type='FeatureMSELoss'), level_weights=[1.0, 0.5])
    want = F.mse_loss(s[0], t[0]) + 0.5 * F.mse_loss(s[1], t[1])
    assert torch.allclose(wrapped(s, t), want)
    # TRG on two levels: each term summed over the levels; the projector is shared
    trg = MultiLevelLoss(dict(type='TRGLoss', student_dim=4, teacher_dim=4, num_tokens=4, k=2),
                         level_weights=[1.0, 2.0])
    assert isinstance(trg.loss, TRGLoss)
    torch.manual_seed(1)
    out = trg(s, t)
    torch.manual_seed(1)
    per = [trg.loss(a, b) for a, b in zip(s, t)]
    assert set(out) == {'loss_trg_inner', 'loss_trg_local', 'loss_trg_global'}
    for k in out:
        assert torch.allclose(out[k], per[0][k] + 2 * per[1][k])
    trg.set_progress(0.5)
    assert trg.loss.progress == 0.5
    # the inner loss's check runs per level, with its settings' key
    bad = [torch.randn(2, 6, 3, 3)] * 2
    with pytest.raises(ValueError, match=r'WHERE level 0.*model\.losses\.l\.loss\.student_dim=6'):
        trg.check_inputs(dict(student=bad, teacher=t), 'model.losses.l', 'WHERE')
    # a map loss inside the wrapper names the distiller's loss input to put the connector on
    mse = MultiLevelLoss(dict(type='FeatureMSELoss'))
    with pytest.raises(ValueError, match=r'to model\.loss_inputs\.loss_fm\.student'):
        mse.check_inputs(dict(student=bad, teacher=t), 'model.losses.loss_fm', 'WHERE')


def test_registered_in_the_downstream_scopes_without_replacing_theirs():
    from mmdet.registry import MODELS as DET
    from mmseg.registry import MODELS as SEG
    for reg in (DET, SEG):
        assert isinstance(reg.build(dict(type='ChannelWiseDivergence', tau=4.0)), ChannelWiseDivergence)
        assert isinstance(reg.build(dict(type='PKDLoss', loss_weight=6)), PKDLoss)
        assert isinstance(reg.build(dict(type='FeatureMSELoss')), FeatureMSELoss)
    assert DET.get('MSELoss').__module__.startswith('mmdet')
