"""GP-MAML's paper forms: one-pass (joint) embedding for label propagation, the authors' conv relation
network, and non-finite tasks that surface instead of vanishing from the means."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import mmlavit  # noqa: F401
from mmlavit.models import GPMAML, MAML, RelationScale, label_propagation
from mmlavit.models.fewshot import maml as maml_module


def _bn_body():
    """Batch norm alone (no affine, batch statistics), then flatten: the embedding is the normalised input."""
    return nn.Sequential(nn.BatchNorm2d(1, affine=False, track_running_stats=False), nn.Flatten())


def _norm(x):
    return ((x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-5)).flatten(1)


@pytest.mark.parametrize('lp_batch', ['joint', 'split'])
def test_lp_embedding_batch_norm_statistics(lp_batch):
    torch.manual_seed(0)
    m = GPMAML(backbone=_bn_body(), num_ways=2, img_size=2, in_channels=1, relation=None, lp_batch=lp_batch,
               lp_k=3).train()
    xs = torch.randn(2, 1, 2, 2) * 3 + 5  # 1-shot support: two images, statistics far from the queries'
    xq = torch.randn(4, 1, 2, 2)
    ys, yq = torch.tensor([0, 1]), torch.tensor([0, 0, 1, 1])
    emb = m.lp_embed(xs, xq, m.params())
    if lp_batch == 'joint':  # the authors': one forward of cat(support, query), normalised over the task
        want = _norm(torch.cat([xs, xq]))
    else:  # each set by its own statistics
        want = torch.cat([_norm(xs), _norm(xq)])
    assert torch.allclose(emb, want, atol=1e-5)
    other = torch.cat([_norm(xs), _norm(xq)]) if lp_batch == 'joint' else _norm(torch.cat([xs, xq]))
    assert not torch.allclose(emb, other, atol=1e-2)  # the two forms really differ here
    # and the propagation runs on that embedding
    probs, lp_loss = m.pseudo_probs(xs, ys, xq, yq, m.params())
    scores = label_propagation(want, ys, 2, k=3, alpha=0.99)
    assert torch.allclose(probs, scores[2:].softmax(1), atol=1e-5)
    assert torch.allclose(lp_loss, F.cross_entropy(scores, torch.cat([ys, yq])), atol=1e-5)
    with pytest.raises(ValueError, match='lp_batch'):
        GPMAML(backbone=_bn_body(), num_ways=2, img_size=2, in_channels=1, relation=None, lp_batch='both')


def test_relation_conv_is_the_authors_net_and_mlp_is_ours():
    torch.manual_seed(0)
    rel = RelationScale(4 * 3 * 3, kind='conv', map_shape=(4, 3, 3))
    emb = torch.randn(6, 36)
    # by hand: 2 x (3x3 conv -> BN over the batch -> ReLU -> 2x2 max-pool, padding 1), Linear, ReLU, Linear
    x = emb.view(6, 4, 3, 3)
    for blk in rel.convs:
        x = F.conv2d(x, blk[0].weight, blk[0].bias, padding=1)
        x = F.batch_norm(x, None, None, blk[1].weight, blk[1].bias, training=True)
        x = F.max_pool2d(F.relu(x), 2, padding=1)
    assert x.shape == (6, 1, 2, 2)  # 3 -> 2 -> 2
    want = rel.net[2](F.relu(rel.net[0](x.flatten(1)))).squeeze(1)
    assert torch.allclose(rel(emb), want, atol=1e-6)
    with torch.no_grad():  # unbounded σ (no softplus): a negative output stays negative
        rel.net[2].bias.fill_(-100.)
    assert (rel(emb) < 0).all()
    mlp = RelationScale(36, kind='mlp')
    assert torch.allclose(mlp(emb), F.softplus(mlp.net(emb)).squeeze(1) + 1e-3) and (mlp(emb) > 0).all()
    # the models resolve the feature map from the backbone; a backbone without one gets a clear error
    m = GPMAML(backbone=dict(type='Conv4', channels=8), num_ways=3, img_size=32)
    assert m.relation.kind == 'conv' and m.relation.map_shape == (8, 2, 2)
    with pytest.raises(ValueError, match="relation='mlp'"):
        GPMAML(backbone=_bn_body(), num_ways=2, img_size=2, in_channels=1)
    with pytest.raises(ValueError, match='relation must be'):
        RelationScale(36, kind='gauss')


def _tasks(n=2, bad=None, episodes=(7, 9)):
    torch.manual_seed(0)
    xs = [torch.randn(4, 1, 2, 2) for _ in range(n)]
    xq = [torch.randn(6, 1, 2, 2) for _ in range(n)]
    if bad is not None:
        xs[bad][0, 0, 0, 0] = float('nan')
        xq[bad][0, 0, 0, 0] = float('nan')
    return dict(support_img=xs, support_label=[torch.tensor([0, 1, 0, 1])] * n, query_img=xq,
                query_label=[torch.tensor([0, 1, 0, 1, 0, 1])] * n, episode=list(episodes[:n]))


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return torch.tanh(self.fc(x.flatten(1)))


def test_nonfinite_task_surfaces_in_loss_and_predict(monkeypatch):
    logs = []
    monkeypatch.setattr(maml_module, 'print_log', lambda msg, **kw: logs.append(msg))
    torch.manual_seed(0)
    m = MAML(backbone=_Tiny(), num_ways=2, img_size=2, in_channels=1).train()
    good = m(_tasks(), mode='loss')
    assert torch.isfinite(good['loss']) and good['nonfinite_tasks'] == 0 and not logs
    losses = m(_tasks(bad=1), mode='loss')
    assert torch.isnan(losses['loss'])  # kept in the mean (not dropped), so the divergence guard sees it
    assert losses['nonfinite_tasks'] == 1
    assert len(logs) == 1 and 'task 1 (episode 9): loss' in logs[0] and '1 of 2 tasks' in logs[0]
    m.eval()
    with torch.no_grad():
        res = m(_tasks(bad=0), mode='predict')
    assert res[0]['nonfinite'] and res[0]['accuracy'] != res[0]['accuracy']  # nan
    assert res[0]['episode'] == 7 and not res[1]['nonfinite'] and 0 <= res[1]['accuracy'] <= 1


def test_gp_loss_reports_nonfinite_lp_term(monkeypatch):
    logs = []
    monkeypatch.setattr(maml_module, 'print_log', lambda msg, **kw: logs.append(msg))
    torch.manual_seed(0)
    m = GPMAML(backbone=dict(type='Conv4', channels=4), num_ways=2, img_size=16, lp_k=3).train()
    inputs = dict(support_img=[torch.randn(2, 3, 16, 16)] * 2, support_label=[torch.tensor([0, 1])] * 2,
                  query_img=[torch.randn(6, 3, 16, 16)] * 2,
                  query_label=[torch.tensor([0, 0, 0, 1, 1, 1])] * 2,
                  episode=[3, 4])
    losses = m(inputs, mode='loss')
    assert {'loss_query', 'loss_lp', 'pick_rate', 'nonfinite_tasks'} <= set(losses)
    assert 0 <= float(losses['pick_rate']) <= 1 and not logs
    with torch.no_grad():  # a relation net that outputs NaN: only the propagation term goes non-finite
        m.relation.net[2].bias.fill_(float('nan'))
    losses = m(inputs, mode='loss')
    assert torch.isnan(losses['loss_lp']) and losses['nonfinite_tasks'] == 2
    assert 'task 0 (episode 3): loss_lp' in logs[-1] and 'task 1 (episode 4): loss_lp' in logs[-1]
