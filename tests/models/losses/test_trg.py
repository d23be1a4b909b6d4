"""TRG loss: hand-computed terms, zero cases, shapes and gradients."""
import math

import pytest
import torch

from mmlavit.models.losses import TRGLoss, contextual_loss
from mmlavit.models.losses.trg import knn_graph, patch_tokens, to_token_grid


def test_contextual_loss_hand_computed():
    # one image, two 1-d tokens; student F = [[1], [0]] -> F Fᵀ = [[1, 0], [0, 0]], √D = 1
    # rows: softmax([1, 0]) = [e/(e+1), 1/(e+1)], softmax([0, 0]) = [1/2, 1/2]
    # teacher F = [[0], [0]] -> all rows [1/2, 1/2]; MSE = 2·(e/(e+1) − 1/2)² / 4
    fs, ft = torch.tensor([[[1.], [0.]]]), torch.zeros(1, 2, 1)
    a = math.e / (math.e + 1)
    assert contextual_loss(fs, ft).item() == pytest.approx(2 * (a - 0.5) ** 2 / 4, rel=1e-6)
    assert contextual_loss(ft, ft).item() == 0.0
    # 'row': row 0 differs by (a − 1/2, 1/2 − a), row 1 by 0 -> (2·(a − 1/2)² + 0) / 2 rows
    assert contextual_loss(fs, ft, 'row').item() == pytest.approx(2 * (a - 0.5) ** 2 / 2, rel=1e-6)


def test_knn_graph_gaussian_kernel():
    x = torch.tensor([[0.], [1.], [3.]])
    a, nbr = knn_graph(x, 1)
    # squared distances: 1, 9, 4 -> median σ = 4; nearest of node 0 is 1 (d²=1), of 1 is 0, of 2 is 1 (d²=4)
    assert nbr.squeeze(1).tolist() == [1, 0, 1]
    assert torch.allclose(a.squeeze(1), torch.exp(-torch.tensor([1., 1., 4.]) / 8))
    log_a, _ = knn_graph(x, 1, log=True)
    assert torch.allclose(log_a.squeeze(1), -torch.tensor([1., 1., 4.]) / 8)


def test_local_term_softmax_vs_row_sum():
    """Two neighbours per node: the local term is KL(P_T ‖ P_S) with P = softmax(A) or A / ΣA."""
    torch.manual_seed(0)
    t, s = torch.randn(1, 2, 2, 2), torch.randn(1, 2, 2, 2)  # 4 tokens of dim 2 -> 4 nodes
    for norm in ('softmax', 'sum'):
        loss = TRGLoss(2, 2, num_tokens=4, k=2, alpha=0., beta=1., gamma=0., local_norm=norm,
                       graph_reduction='mean')
        with torch.no_grad():
            loss.projector.weight.copy_(torch.eye(2))
            loss.projector.bias.zero_()
        nt, ns = t.flatten(2).transpose(1, 2)[0], s.flatten(2).transpose(1, 2)[0]
        a_t, nbr = knn_graph(nt, 2)
        a_s, _ = knn_graph(ns, 2, nbr)
        p = (lambda a: torch.softmax(a, 1)) if norm == 'softmax' else (lambda a: a / a.sum(1, keepdim=True))
        expect = (p(a_t) * (p(a_t).log() - p(a_s).log())).sum() / 4
        assert loss(s, t)['loss_trg_local'].item() == pytest.approx(expect.item(), rel=1e-4)  # order-free
    with pytest.raises(ValueError, match="'softmax' or 'sum'"):
        TRGLoss(2, 2, local_norm='max')


def test_global_term_hand_computed_and_schedule():
    loss = TRGLoss(2, 2, num_tokens=2, k=1, alpha=0., beta=0., gamma=1., graph_reduction='mean')
    with torch.no_grad():
        loss.projector.weight.copy_(torch.eye(2))
        loss.projector.bias.zero_()
    # a 1x2 "image" of two orthogonal tokens for both: similarities [[1, 0], [0, 1]] / τ;
    # InfoNCE = −log(e^{1/τ} / (e^{1/τ} + 1)) per node
    tokens = torch.tensor([[[1., 0.], [0., 1.]]]).transpose(1, 2).reshape(1, 2, 1, 2)
    out = loss(tokens, tokens)
    tau = 0.5
    want = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + 1))
    assert out['loss_trg_global'].item() == pytest.approx(want, rel=1e-5)
    assert loss.tau == pytest.approx(0.5)
    loss.set_progress(1.0)
    assert loss.tau == pytest.approx(0.07)
    loss.set_progress(0.5)
    assert loss.tau == pytest.approx((0.5 + 0.07) / 2)


def test_zero_local_and_inner_when_student_equals_teacher():
    torch.manual_seed(0)
    loss = TRGLoss(8, 8, num_tokens=6, k=3)
    with torch.no_grad():
        loss.projector.weight.copy_(torch.eye(8))
        loss.projector.bias.zero_()
    f = torch.randn(2, 8, 4, 4)
    out = loss(f, f)
    assert out['loss_trg_inner'].item() == pytest.approx(0.0, abs=1e-7)
    assert out['loss_trg_local'].item() == pytest.approx(0.0, abs=1e-6)


def test_different_dims_grids_and_gradients():
    torch.manual_seed(0)
    loss = TRGLoss(student_dim=16, teacher_dim=32, num_tokens=4, k=2)
    s = torch.randn(3, 64, 16, requires_grad=True)  # ViT tokens, 8x8 grid
    t = torch.randn(3, 32, 4, 4, requires_grad=True)  # CNN map, 4x4 grid (student is pooled to it)
    out = loss(s, t)
    assert set(out) == {'loss_trg_inner', 'loss_trg_local', 'loss_trg_global'}
    sum(out.values()).backward()
    assert s.grad.abs().sum() > 0 and loss.projector.weight.grad.abs().sum() > 0
    assert t.grad is None
    with pytest.raises(ValueError, match='square'):
        to_token_grid(torch.randn(1, 65, 4))


def test_trg_warmup_scales_all_three_terms():
    torch.manual_seed(0)
    s, t = torch.randn(2, 4, 4, 4), torch.randn(2, 4, 4, 4)
    loss = TRGLoss(4, 4, num_tokens=16, k=3, warmup=0.5)
    loss.set_progress(0.5)
    torch.manual_seed(1)
    full = loss(s, t)
    loss.set_progress(0.25)  # half-way through the ramp; τ changes too, so compare at the same τ below
    torch.manual_seed(1)
    part = loss(s, t)
    assert part['loss_trg_inner'].item() == pytest.approx(0.5 * full['loss_trg_inner'].item(), rel=1e-5)
    assert part['loss_trg_local'].item() == pytest.approx(0.5 * full['loss_trg_local'].item(), rel=1e-5)
    no_ramp = TRGLoss(4, 4, num_tokens=16, k=3)
    no_ramp.load_state_dict(loss.state_dict())
    no_ramp.set_progress(0.25)
    torch.manual_seed(1)
    half = 0.5 * no_ramp(s, t)['loss_trg_global'].item()
    assert part['loss_trg_global'].item() == pytest.approx(half, rel=1e-5)
    with pytest.raises(ValueError, match='fraction of training'):
        TRGLoss(4, 4, warmup=2.0)


def test_patch_tokens_flatten_each_patch():
    x = torch.arange(2 * 4 * 4, dtype=torch.float).reshape(1, 2, 4, 4)  # channels 0..15 and 16..31
    tok = patch_tokens(x, 2)
    assert tok.shape == (1, 4, 8)  # 2x2 patches of 2 channels x 2x2 positions
    # the top-left patch: channel 0 at positions (0,0),(0,1),(1,0),(1,1), then channel 1 at the same
    assert tok[0, 0].tolist() == [0., 1., 4., 5., 16., 17., 20., 21.]
    assert tok[0, 3].tolist() == [10., 11., 14., 15., 26., 27., 30., 31.]  # bottom-right patch
    assert torch.equal(patch_tokens(x, 1), x.flatten(2).transpose(1, 2))
    mean = patch_tokens(x, 2, 'mean')  # each patch's average per channel
    assert mean.shape == (1, 4, 2)
    assert mean[0, 0].tolist() == [2.5, 18.5] and mean[0, 3].tolist() == [12.5, 28.5]
    with pytest.raises(ValueError, match='divisor'):
        patch_tokens(torch.zeros(1, 2, 6, 6), 4)


def test_patch_size_projector_and_gradients():
    torch.manual_seed(0)
    loss = TRGLoss(student_dim=8, teacher_dim=16, num_tokens=16, k=2, patch_size=2)
    assert (loss.projector.in_features, loss.projector.out_features) == (32, 64)
    s = torch.randn(3, 8, 4, 4, requires_grad=True)  # 4 patch tokens per image -> 12 nodes
    out = loss(s, torch.randn(3, 16, 4, 4))
    sum(out.values()).backward()
    assert s.grad.abs().sum() > 0 and all(torch.isfinite(v) for v in out.values())
    mean = TRGLoss(student_dim=8, teacher_dim=16, patch_size=2, patch_mode='mean')
    assert (mean.projector.in_features, mean.projector.out_features) == (8, 16)
    assert mean(s, torch.randn(3, 16, 4, 4))['loss_trg_global'].isfinite()
    with pytest.raises(ValueError, match='positive int'):
        TRGLoss(8, 8, patch_size=0)
    with pytest.raises(ValueError, match="'flatten' or 'mean'"):
        TRGLoss(8, 8, patch_mode='max')


def _identity_trg(dim, **kw):
    loss = TRGLoss(dim, dim, **kw)
    with torch.no_grad():
        loss.projector.weight.copy_(torch.eye(dim))
        loss.projector.bias.zero_()
    return loss


def test_loss_depends_on_where_tokens_sit_the_pooled_feature_does_not():
    """Each position of an 8×8 map a token (a 32-px CIFAR ResNet's last map): permuting the student's
    positions within each image leaves the pooled feature (what the classifier sees) unchanged, but moves its
    tokens against the teacher's, and every TRG term changes. With one averaged patch per image (the pooled
    feature as the only token) the permutation changes nothing."""
    torch.manual_seed(0)
    t = torch.randn(4, 8, 8, 8)
    s = t + 0.3 * torch.randn(4, 8, 8, 8)
    perm = torch.randperm(64)
    s_perm = s.flatten(2)[:, :, perm].reshape(s.shape)
    assert torch.allclose(s.mean((2, 3)), s_perm.mean((2, 3)), atol=1e-6)  # the pooled feature

    def terms(loss, student):
        torch.manual_seed(1)  # the same sampled positions for both calls
        return {k: v.item() for k, v in loss(student, t).items()}

    loss = _identity_trg(8, num_tokens=16, k=4)
    here, moved = terms(loss, s), terms(loss, s_perm)
    for k in here:
        assert moved[k] > here[k] + 1e-3, k  # farther from the teacher, token by token
    pooled = _identity_trg(8, num_tokens=16, k=4, patch_size=8, patch_mode='mean')
    assert terms(pooled, s) == pytest.approx(terms(pooled, s_perm), rel=1e-4, abs=1e-7)  # float order


def test_graph_reduction_sum_is_mean_times_nodes():
    torch.manual_seed(0)
    s, t = torch.randn(3, 4, 4, 4), torch.randn(3, 4, 4, 4)
    assert TRGLoss(4, 4).graph_reduction == 'sum'  # the paper's summary is the default; the mean is ours
    mean, total = TRGLoss(4, 4, num_tokens=5, k=3, graph_reduction='mean'), TRGLoss(4, 4, num_tokens=5, k=3)
    total.load_state_dict(mean.state_dict())
    torch.manual_seed(1)
    m = mean(s, t)
    torch.manual_seed(1)
    x = total(s, t)
    nodes = 3 * 5
    assert x['loss_trg_local'].item() == pytest.approx(nodes * m['loss_trg_local'].item(), rel=1e-5)
    assert x['loss_trg_global'].item() == pytest.approx(nodes * m['loss_trg_global'].item(), rel=1e-5)
    assert x['loss_trg_inner'].item() == pytest.approx(m['loss_trg_inner'].item(), rel=1e-6)
    with pytest.raises(ValueError, match="'mean' or 'sum'"):
        TRGLoss(4, 4, graph_reduction='batchmean')


def test_local_graph_on_raw_or_projected_student_tokens():
    """``local_tokens='raw'`` (the paper's): the student's k-NN graph on its own tokens, so the projector
    gets no gradient from L_local; ``'projected'`` (ours): on the projected ones."""
    torch.manual_seed(0)
    s, t = torch.randn(2, 4, 4, 4, requires_grad=True), torch.randn(2, 8, 4, 4)
    only_local = dict(num_tokens=8, k=3, alpha=0., beta=1., gamma=0., graph_reduction='mean')
    raw, proj = TRGLoss(4, 8, **only_local), TRGLoss(4, 8, **only_local, local_tokens='projected')
    proj.load_state_dict(raw.state_dict())
    torch.manual_seed(1)
    r = raw(s, t)['loss_trg_local']
    torch.manual_seed(1)
    p = proj(s, t)['loss_trg_local']
    r.backward()
    p.backward()
    assert raw.projector.weight.grad is None or raw.projector.weight.grad.abs().sum() == 0
    assert proj.projector.weight.grad.abs().sum() > 0
    assert r.item() != pytest.approx(p.item(), rel=1e-3)
    # by hand for 'raw': the same neighbour sets, the student's graph on its raw sampled tokens
    torch.manual_seed(1)
    ns, nt = raw.sample(*raw.tokens(s.detach(), t))
    a_t, nbr = knn_graph(nt, 3)
    a_s, _ = knn_graph(ns, 3, nbr)
    want = torch.nn.functional.kl_div(a_s.log_softmax(1), a_t.log_softmax(1), reduction='batchmean',
                                      log_target=True)
    assert r.item() == pytest.approx(want.item(), rel=1e-5)
    with pytest.raises(ValueError, match="'raw' or 'projected'"):
        TRGLoss(4, 4, local_tokens='both')
