"""``with_cp``: activation checkpointing of every LaViT block (or of its FFN's hidden maps) gives the plain
module's outputs, DP loss and gradients (the LA chain and the residual attention carried through the
checkpointed blocks), and keeps fewer activations for backward."""
import pytest
import torch

from mmlavit.models import LaViT


def _saved_bytes(fn) -> int:
    """Bytes of the tensors autograd saves while ``fn()`` runs (each storage once)."""
    seen = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


def _step(model, x, seed):
    torch.manual_seed(seed)  # the same drop-path masks in both models (checkpoint replays the RNG state)
    model.zero_grad(set_to_none=True)
    outs = model(x)
    dp = model.pop_aux_losses()['loss_dp']
    (sum((o ** 2).mean() for o in outs) + dp).backward()
    return [o.detach() for o in outs], dp.detach(), {k: p.grad.clone() for k, p in model.named_parameters()}


@pytest.mark.parametrize('chain,with_cp', [('softmax', True), ('scores', True), ('softmax', 'ffn')])
def test_with_cp_gradients_equal_plain(chain, with_cp):
    torch.manual_seed(0)
    # FFN dropout too: the recomputation replays the RNG state of the dropout inside the checkpointed FFN
    kw = dict(la_chain=chain, drop_path_rate=0.3, dp_loss_weight=0.1,
              drop_rate=0.1 if with_cp == 'ffn' else 0.)
    plain, ckpt = LaViT('tiny', **kw), LaViT('tiny', with_cp=with_cp, **kw)
    for m in plain.modules():  # a residual attention that matters (its scale starts at 0.1)
        if hasattr(m, 'scale') and isinstance(m.scale, torch.nn.Parameter):
            m.scale.data.fill_(0.7)
    ckpt.load_state_dict(plain.state_dict())
    plain.train(), ckpt.train()
    x = torch.randn(2, 3, 80, 112)
    out_p, dp_p, g_p = _step(plain, x, seed=1)
    out_c, dp_c, g_c = _step(ckpt, x, seed=1)
    for a, b in zip(out_p, out_c):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(dp_c, dp_p, rtol=1e-5, atol=1e-7)
    assert set(g_p) == set(g_c)
    for k in g_p:
        scale = g_p[k].abs().max().clamp_min(1e-12)
        assert (g_c[k] - g_p[k]).abs().max() <= 1e-4 * scale, k
    # the DP loss and the carried maps reach the LA transforms and the residual downsampling
    assert g_c['stages.0.blocks.1.attn.theta'].abs().sum() > 0
    assert g_c['stages.1.attn_downsample.scale'].abs().sum() > 0


def test_with_cp_keeps_fewer_activations_and_skips_frozen_stages():
    torch.manual_seed(0)
    plain, ckpt = LaViT('tiny', drop_path_rate=0.), LaViT('tiny', drop_path_rate=0., with_cp=True)
    ffn = LaViT('tiny', drop_path_rate=0., with_cp='ffn')
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 96, 96)
    sizes = {}
    for name, m in (('plain', plain), ('cp', ckpt), ('ffn', ffn)):
        m.train()
        sizes[name] = _saved_bytes(lambda: m(x))
        m.pop_aux_losses()
    assert sizes['cp'] < 0.6 * sizes['plain'], sizes
    # 'ffn' drops the three hidden maps (4·C channels each for LaViT-T's stages 0-1) but keeps attention's
    assert sizes['cp'] < sizes['ffn'] < 0.7 * sizes['plain'], sizes
    with pytest.raises(ValueError, match="with_cp must be False, True / 'block' or 'ffn'"):
        LaViT('tiny', with_cp='attn')
    # frozen stages take no gradient, so they are not checkpointed (mmdet's rule: x.requires_grad)
    frozen = LaViT('tiny', drop_path_rate=0., with_cp=True, frozen_stages=4)
    frozen.train()
    with torch.no_grad():
        ref = [o.clone() for o in frozen(x)]
    out = frozen(x)
    frozen.pop_aux_losses()
    assert all(not o.requires_grad for o in out)
    for a, b in zip(ref, out):
        torch.testing.assert_close(a, b)
