"""KD, DKD and CLKD against hand-computed values (derivations in the comments)."""
import math

import pytest
import torch

from mmlavit.models.losses import CLKDLoss, DKDLoss, KDLoss, class_correlation
from mmlavit.registry import MODELS

L3, L2 = math.log(3), math.log(2)


def test_kd_hand_computed_and_temperature():
    s, t = torch.tensor([[0., 0.]]), torch.tensor([[L3, 0.]])
    # T=1: p_T = [3/4, 1/4], p_S = [1/2, 1/2]; KL = 3/4 ln(3/2) + 1/4 ln(1/2)
    assert KDLoss(temperature=1.)(s, t).item() == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5))
    # T=2: p_T = softmax([ln3/2, 0]) = [√3, 1]/(√3+1); times T² = 4
    a = math.sqrt(3) / (math.sqrt(3) + 1)
    kl = a * math.log(a / 0.5) + (1 - a) * math.log((1 - a) / 0.5)
    assert KDLoss(temperature=2.)(s, t).item() == pytest.approx(4 * kl, rel=1e-5)
    # batchmean: a second identical row leaves the value unchanged; student == teacher gives zero
    assert KDLoss(temperature=2.)(s.repeat(2, 1), t.repeat(2, 1)).item() == pytest.approx(4 * kl, rel=1e-5)
    assert KDLoss()(t, t).item() == pytest.approx(0.0, abs=1e-7)


def test_dkd_hand_computed():
    s = torch.zeros(1, 3)  # p_S = [1/3, 1/3, 1/3]
    target = torch.tensor([0])
    # teacher [ln2, 0, 0]: p_T = [1/2, 1/4, 1/4]; b_T = [1/2, 1/2], b_S = [1/3, 2/3]
    # TCKD = 1/2 ln(3/2) + 1/2 ln(3/4); non-target parts are both uniform -> NCKD = 0
    t = torch.tensor([[L2, 0., 0.]])
    tckd = 0.5 * math.log(1.5) + 0.5 * math.log(0.75)
    assert DKDLoss(alpha=1., beta=8., temperature=1.)(s, t, target).item() == pytest.approx(tckd, rel=1e-5)
    # teacher [0, ln3, 0]: p_T = [1/5, 3/5, 1/5]; b_T = [1/5, 4/5]: TCKD = 1/5 ln(3/5) + 4/5 ln(6/5)
    # non-target: q_T = [3/4, 1/4], q_S = [1/2, 1/2]: NCKD = 3/4 ln(3/2) + 1/4 ln(1/2)
    t = torch.tensor([[0., L3, 0.]])
    tckd = 0.2 * math.log(0.6) + 0.8 * math.log(1.2)
    nckd = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    dkd = DKDLoss(alpha=1., beta=8., temperature=1.)(s, t, target).item()
    assert dkd == pytest.approx(tckd + 8 * nckd, rel=1e-5)
    dkd = DKDLoss(alpha=2., beta=0., temperature=1.)(s, t, target).item()
    assert dkd == pytest.approx(2 * tckd, rel=1e-5)
    assert DKDLoss()(t, t, target).item() == pytest.approx(0.0, abs=1e-6)


def test_clkd_hand_computed():
    # reduction='element' (F.mse_loss, the re-implementations): means over all elements
    E = dict(reduction='element')
    zs = torch.tensor([[1., 0.], [0., 1.]])
    zt = torch.tensor([[1., 1.], [0., 2.]])
    # instance: rownorm(Z_T) = [[1/√2, 1/√2], [0, 1]] vs identity -> ((1 − 1/√2)² + 1/2) / 4
    ins = ((1 - 2 ** -0.5) ** 2 + 0.5) / 4
    # class (transposes): rownorm(Z_Tᵀ) = [[1, 0], [1/√5, 2/√5]] vs identity -> (1/5 + (1 − 2/√5)²) / 4
    cla = (0.2 + (1 - 2 / math.sqrt(5)) ** 2) / 4
    # correlation: both centred batches are [[.5, −.5], [−.5, .5]] -> B_S = B_T, L_cc = 0
    assert torch.allclose(class_correlation(zs), class_correlation(zt))
    loss = CLKDLoss(mu=0.5, beta=2.0, nu=0.4, **E, cc_normalize=False)(zs, zt)
    assert loss.item() == pytest.approx(0.5 * (ins + 2 * cla), rel=1e-5)
    # raw logits (the literal formula): scaling the teacher changes only the correlation term:
    # B_T = [[2, −2], [−2, 2]], B_S = [[.5, −.5], [−.5, .5]] -> every entry differs by 1.5, L_cc = 2.25
    raw = CLKDLoss(mu=0.5, beta=2.0, nu=0.4, **E, cc_normalize=False)(zs, 2 * zs).item()
    assert raw == pytest.approx(0.4 * 2.25, rel=1e-5)
    # default (ours): the correlation of the row-normalised logits is scale-free -> the whole loss vanishes
    assert CLKDLoss(mu=0.5, beta=2.0, nu=0.4, **E)(zs, 2 * zs).item() == pytest.approx(0.0, abs=1e-7)
    # and by hand on zs vs zt: rownorm(zt) = [[a, a], [0, 1]], a = 1/√2; centred: ±[a/2, (a − 1)/2]
    a = 2 ** -0.5
    d = torch.tensor([a / 2, (a - 1) / 2])
    b_t = 2 * torch.outer(d, d)  # (N − 1) = 1, two rows ±d
    b_s = torch.tensor([[.5, -.5], [-.5, .5]])
    cc = (b_s - b_t).pow(2).mean().item()
    normed = CLKDLoss(mu=0.5, beta=2.0, nu=0.4, **E)(zs, zt).item()
    assert normed == pytest.approx(0.5 * (ins + 2 * cla) + 0.4 * cc, rel=1e-5)
    assert CLKDLoss()(zt, zt).item() == pytest.approx(0.0, abs=1e-7)
    # reduction='row' (default): squared distances summed along each normalised row, averaged over rows;
    # L_cc summed over the C×C entries. Here N = C = 2: each row holds 2 elements, B holds 4.
    ins_row = ((1 - a) ** 2 + 0.5) / 2  # rows: sample 0 differs by (1 − a, −a), sample 1 by 0 -> /N
    cla_row = (0.2 + (1 - 2 / math.sqrt(5)) ** 2) / 2
    cc_row = (b_s - b_t).pow(2).sum().item()
    assert CLKDLoss(mu=0.5, beta=2.0, nu=0.4)(zs, zt).item() == pytest.approx(
        0.5 * (ins_row + 2 * cla_row) + 0.4 * cc_row, rel=1e-5)
    with pytest.raises(ValueError, match="'row' or 'element'"):
        CLKDLoss(reduction='sum')


def test_clkd_class_level_uses_the_batch_axis():
    torch.manual_seed(0)
    zs, zt = torch.randn(4, 3), torch.randn(4, 3)
    only_cla = CLKDLoss(mu=1.0, beta=1.0, nu=0.0)(zs, zt) - CLKDLoss(mu=1.0, beta=0.0, nu=0.0)(zs, zt)
    # the class-level rows are the 3 columns (length N = 4 over the batch), normalised over the batch axis
    manual = ((zs.t() / zs.t().norm(dim=1, keepdim=True) - zt.t() / zt.t().norm(dim=1, keepdim=True)) ** 2)
    manual = manual.sum(dim=1).mean()
    assert only_cla.item() == pytest.approx(manual.item(), rel=1e-5)
    with pytest.raises(ValueError, match='at least 2'):
        CLKDLoss()(zs[:1], zt[:1])


@pytest.mark.parametrize('name,args', [('KDLoss', ()), ('DKDLoss', ('target',)), ('CLKDLoss', ())])
def test_gradients_reach_only_the_student_and_registry(name, args):
    loss_fn = MODELS.build(dict(type=name))
    torch.manual_seed(1)
    s = torch.randn(4, 5, requires_grad=True)
    t = torch.randn(4, 5, requires_grad=True)
    extra = [torch.tensor([0, 1, 2, 3])] if args else []
    loss_fn(s, t, *extra).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def test_clkd_and_dkd_warmup_ramp():
    torch.manual_seed(0)
    zs, zt, y = torch.randn(4, 3), torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    for loss, args in ((CLKDLoss(warmup=0.5), (zs, zt)), (DKDLoss(warmup=0.5), (zs, zt, y))):
        full = loss(*args).item()  # progress defaults to 1: the full weight outside a Runner
        loss.set_progress(0.25)
        assert loss(*args).item() == pytest.approx(0.5 * full, rel=1e-6)
        loss.set_progress(0.0)
        assert loss(*args).item() == 0.0
        loss.set_progress(0.6)
        assert loss(*args).item() == pytest.approx(full, rel=1e-6)
    with pytest.raises(ValueError, match='fraction of training'):
        CLKDLoss(warmup=20)


def test_clkd_logit_scale_value_and_gradients():
    """``logit_scale`` multiplies the normalised rows of L_ins and L_cla: 1 is the paper's form (the loss
    unchanged), a number s scales those terms and their gradients by s², ``'student_norm'`` weights each row
    by the student row's norm so that the pull does not fade as the logits grow."""
    torch.manual_seed(0)
    zs, zt = torch.randn(6, 5), torch.randn(6, 5)
    for red in ('row', 'element'):
        for cc in (True, False):
            base = dict(reduction=red, cc_normalize=cc)
            assert CLKDLoss(**base, logit_scale=1.0)(zs, zt).item() == CLKDLoss(**base)(zs, zt).item()

    def grad(loss, z):
        z = z.clone().requires_grad_(True)
        value = loss(z, zt)
        value.backward()
        return value.item(), z.grad

    no_cc = dict(nu=0.0)  # the correlation term is not scaled
    v1, g1 = grad(CLKDLoss(**no_cc), zs)
    v3, g3 = grad(CLKDLoss(**no_cc, logit_scale=3.0), zs)
    assert v3 == pytest.approx(9 * v1, rel=1e-5) and torch.allclose(g3, 9 * g1, rtol=1e-4, atol=1e-7)
    # the fade: the same logits 10× larger pull 10× less in the paper's form ...
    _, g10 = grad(CLKDLoss(**no_cc), 10 * zs)
    assert torch.allclose(g10, g1 / 10, rtol=1e-4, atol=1e-8)
    # ... and as much with 'student_norm'; its value is each row's squared distance × that row's norm
    n1, h1 = grad(CLKDLoss(**no_cc, logit_scale='student_norm'), zs)
    _, h10 = grad(CLKDLoss(**no_cc, logit_scale='student_norm'), 10 * zs)
    assert torch.allclose(h10, h1, rtol=1e-4, atol=1e-7)
    rn = torch.nn.functional.normalize
    ins = ((rn(zs, dim=1) - rn(zt, dim=1)).pow(2).sum(1) * zs.norm(dim=1)).mean()
    cla = ((rn(zs.t(), dim=1) - rn(zt.t(), dim=1)).pow(2).sum(1) * zs.t().norm(dim=1)).mean()
    assert n1 == pytest.approx((0.5 * (ins + 2 * cla)).item(), rel=1e-5)
    for bad in (0.0, -1.0, 'teacher_norm'):
        with pytest.raises(ValueError, match="logit_scale must be a positive number or 'student_norm'"):
            CLKDLoss(logit_scale=bad)
