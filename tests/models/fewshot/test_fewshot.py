"""Few-shot: episodic sampling, the MAML-family inner loops, pseudo-label picking, label propagation, CI."""
import math
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmlavit  # noqa: F401
from mmlavit.datasets import EpisodicDataset
from mmlavit.evaluation import FewShotMetric, mean_ci95
from mmlavit.models import (ANIL, BOIL, GPANIL, GPMAML, MAML, Conv4, ResNet12, label_propagation,
                            pick_confident)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def _csv_source(tmp_path, n_classes=8, per_class=7, size=12):
    from PIL import Image
    (tmp_path / 'images').mkdir()
    rows = ['filename,label']
    rng = np.random.default_rng(0)
    for c in range(n_classes):
        for i in range(per_class):
            name = f'c{c}_{i}.png'
            noise = rng.integers(0, 5, (size, size, 3), dtype=np.uint8)
            img = np.full((size, size, 3), c * 20, np.uint8) + noise
            Image.fromarray(img).save(tmp_path / 'images' / name)
            rows.append(f'{name},class{c}')
    (tmp_path / 'train.csv').write_text('\n'.join(rows) + '\n')
    return tmp_path


def test_episodes_disjoint_exact_relabelled_deterministic(tmp_path):
    root = _csv_source(tmp_path)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ds = EpisodicDataset(num_ways=3, num_shots=2, num_queries=4, num_episodes=10, seed=5,
                             data_root=str(root), ann_file='train.csv', data_prefix='images',
                             pipeline=[dict(type='LoadImageFromFile')])
    ep = ds[3]
    assert ep['support_img'].shape == (6, 3, 12, 12) and ep['query_img'].shape == (12, 3, 12, 12)
    assert ep['support_img'].dtype == torch.uint8
    assert ep['support_label'].tolist() == [0, 0, 1, 1, 2, 2]
    assert ep['query_label'].tolist() == [0] * 4 + [1] * 4 + [2] * 4
    classes, support, query = ds.sample(3)
    assert len(set(classes.tolist())) == 3
    for c, s, q in zip(classes, support, query):
        assert not set(s) & set(q)  # support and query of a class are disjoint
        assert all(i in ds.by_class[c] for i in list(s) + list(q))  # and come from that class
    # relabelling: the images of label j are those of the j-th sampled class (pixel value = 20 · class)
    for j, c in enumerate(classes):
        cls_idx = int(ds.class_names[c][5:])
        imgs = ep['query_img'][ep['query_label'] == j]
        assert (imgs.float().mean() - 20 * cls_idx).abs() < 5
    # deterministic by (seed, index), different across indices and seeds
    assert torch.equal(ds[3]['query_img'], ep['query_img'])
    assert ds.sample(4)[0].tolist() != classes.tolist() or ds.sample(4)[1] != support
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ds2 = EpisodicDataset(num_ways=3, num_shots=2, num_queries=4, seed=6, data_root=str(root),
                              ann_file='train.csv', data_prefix='images',
                              pipeline=[dict(type='LoadImageFromFile')])
    assert [ds2.sample(i)[0].tolist() for i in range(5)] != [ds.sample(i)[0].tolist() for i in range(5)]
    with pytest.raises(ValueError, match='need 12 images per class'):
        EpisodicDataset(num_ways=3, num_shots=2, num_queries=10, data_root=str(root), ann_file='train.csv',
                        data_prefix='images')
    with pytest.raises(ValueError, match='at least 9 classes'):
        EpisodicDataset(num_ways=9, num_shots=1, num_queries=1, data_root=str(root), ann_file='train.csv',
                        data_prefix='images')


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        return torch.tanh(self.fc(x.flatten(1)))


def _tiny(cls, **kw):
    torch.manual_seed(0)
    return cls(backbone=Tiny(), num_ways=2, img_size=2, in_channels=1, inner_lr=0.3, **kw)


def test_inner_loop_equals_hand_written_sgd():
    m = _tiny(MAML, inner_steps=2)
    torch.manual_seed(1)
    x, y = torch.randn(6, 1, 2, 2), torch.tensor([0, 1, 0, 1, 0, 1])
    fast = m.adapt(x, y)
    # by hand: two plain SGD steps on copies of every parameter
    w1, b1 = m.learner.body.fc.weight.detach().clone(), m.learner.body.fc.bias.detach().clone()
    w2, b2 = m.learner.head.weight.detach().clone(), m.learner.head.bias.detach().clone()
    for _ in range(2):
        ps = [p.requires_grad_() for p in (w1, b1, w2, b2)]
        logits = torch.tanh(x.flatten(1) @ ps[0].t() + ps[1]) @ ps[2].t() + ps[3]
        gs = torch.autograd.grad(F.cross_entropy(logits, y), ps)
        w1, b1, w2, b2 = [(p - 0.3 * g).detach() for p, g in zip(ps, gs)]
    assert torch.allclose(fast['body.fc.weight'], w1, atol=1e-6)
    assert torch.allclose(fast['head.bias'], b2, atol=1e-6)
    # second order: the adapted weights carry a graph back to θ (first_order cuts the inner gradients)
    m.train()
    fast = m.adapt(x, y)
    g2 = torch.autograd.grad(fast['head.weight'].sum(), m.learner.body.fc.weight, allow_unused=True)[0]
    assert g2 is not None and g2.abs().sum() > 0
    m.first_order = True
    fast = m.adapt(x, y)
    g1 = torch.autograd.grad(fast['head.weight'].sum(), m.learner.body.fc.weight, allow_unused=True)[0]
    assert g1 is None or g1.abs().sum() == 0


@pytest.mark.parametrize('cls,changed,kept', [(MAML, ['body.', 'head.'], []), (ANIL, ['head.'], ['body.']),
                                              (BOIL, ['body.'], ['head.'])])
def test_anil_boil_adapt_only_their_part(cls, changed, kept):
    m = _tiny(cls)
    x, y = torch.randn(6, 1, 2, 2), torch.tensor([0, 1, 0, 1, 0, 1])
    theta, fast = m.params(), m.adapt(x, y)
    for n in theta:
        moved = not torch.equal(theta[n].detach(), fast[n].detach())
        if any(n.startswith(p) for p in changed):
            assert moved, n
        if any(n.startswith(p) for p in kept):
            assert not moved, n


def test_pick_confident_hand_built():
    probs = torch.tensor([[.9, .1, 0.], [.6, .3, .1], [.2, .7, .1], [.1, .8, .1], [.1, .1, .8], [.7, .2, .1],
                          [.3, .3, .4]])
    idx, labels = pick_confident(probs)
    # predicted: class 0 -> {0 (.9), 1 (.6), 5 (.7)}, class 1 -> {2 (.7), 3 (.8)}, class 2 -> {4 (.8), 6 (.4)}
    # smallest predicted class has 2 -> keep the 2 most confident of each class
    assert idx.tolist() == [0, 5, 3, 2, 4, 6] and labels.tolist() == [0, 0, 1, 1, 2, 2]
    idx, _ = pick_confident(torch.tensor([[.9, .1], [.8, .2]]))  # class 1 never predicted -> nothing
    assert len(idx) == 0


def test_label_propagation_closed_form():
    # two tight clusters; the support node of each cluster labels its query neighbours
    emb = torch.tensor([[0., 0.], [10., 10.], [0.1, 0.], [10., 10.1], [0., 0.2]])
    f = label_propagation(emb, torch.tensor([0, 1]), num_ways=2, k=2, alpha=0.5)
    assert f[2:].argmax(1).tolist() == [0, 1, 0]
    # equals (I − αS)^-1 Y computed by hand
    e = emb
    w = torch.exp(-(e[:, None] - e[None]).pow(2).mean(-1) / 2)
    kth = w.topk(2, dim=1).values[:, -1:]
    mask = (w >= kth) | (w >= kth).t()
    w = w * mask
    d = w.sum(1).rsqrt()
    s = d[:, None] * w * d[None]
    y = torch.zeros(5, 2)
    y[0, 0] = y[1, 1] = 1
    assert torch.allclose(f, torch.linalg.inv(torch.eye(5) - 0.5 * s) @ y, atol=1e-5)


def test_gp_task_picks_and_readapts_from_theta():
    torch.manual_seed(0)
    m = GPMAML(backbone=dict(type='Conv4', channels=8), num_ways=3, img_size=16, lp_k=5)
    m.train()
    xs, ys = torch.randn(3, 3, 16, 16), torch.arange(3)
    xq, yq = torch.randn(9, 3, 16, 16), torch.arange(3).repeat_interleave(3)
    calls = []
    orig = m.adapt

    def spy(x, y, *a, **k):
        calls.append((len(x), k.get('params')))
        return orig(x, y, *a, **k)
    m.adapt = spy
    out = m.task(xs, ys, xq, yq)
    assert {'loss', 'loss_lp', 'logits', 'picked', 'pseudo_correct'} <= set(out)
    picked = int(out['picked'])
    assert picked % 3 == 0  # class-balanced
    if picked:
        assert calls[1] == (3 + picked, None)  # re-adapted from θ (no params passed) on support + picked
    out['loss'].backward()
    assert all(p.grad is None for p in m.relation.parameters())  # the query CE does not touch the relation...
    m.zero_grad()
    out = m.task(xs, ys, xq, yq)
    out['loss_lp'].backward()
    assert m.relation.convs[0][0].weight.grad.abs().sum() > 0  # ...its own loss does (the conv relation)
    with pytest.raises(ValueError, match='pseudo_label'):
        GPMAML(backbone=dict(type='Conv4', channels=8), img_size=16, pseudo_label='oracle')
    assert GPANIL(backbone=dict(type='Conv4', channels=8), img_size=16).lp_encoder is not None  # own encoder


def test_predict_needs_no_outer_grad_and_metric_ci():
    m = _tiny(MAML).eval()
    inputs = dict(support_img=[torch.randn(4, 1, 2, 2)], support_label=[torch.tensor([0, 1, 0, 1])],
                  query_img=[torch.randn(6, 1, 2, 2)], query_label=[torch.tensor([0, 1, 0, 1, 0, 1])])
    with torch.no_grad():  # the val loop's context: adaptation still runs
        res = m(inputs, mode='predict')
    assert 0 <= res[0]['accuracy'] <= 1
    mean, ci = mean_ci95([0.5, 0.7, 0.6, 0.8])
    assert mean == pytest.approx(0.65) and ci == pytest.approx(1.96 * np.std([.5, .7, .6, .8], ddof=1) / 2)
    metric = FewShotMetric()
    metric.process(None, [dict(accuracy=a) for a in (0.5, 0.7, 0.6, 0.8)])
    out = metric.compute_metrics(metric.results)
    assert out['accuracy'] == pytest.approx(65.0) and out['ci95'] == pytest.approx(100 * ci)
    assert out['episodes'] == 4 and math.isnan(mean_ci95([1.0])[1])


def test_backbones_shapes():
    assert Conv4()(torch.randn(2, 3, 84, 84)).shape == (2, 64 * 5 * 5)
    assert Conv4(flatten=False)(torch.randn(2, 3, 32, 32)).shape == (2, 64, 2, 2)
    r = ResNet12(channels=(8, 16, 32, 64))
    assert r(torch.randn(2, 3, 84, 84)).shape == (2, 64)
    # transductive batch norm: no running statistics anywhere
    assert not any(isinstance(b, torch.nn.BatchNorm2d) and b.track_running_stats for b in r.modules())


@pytest.mark.parametrize('name', ['maml', 'anil', 'boil', 'gp-maml', 'gp-anil', 'gp-boil'])
def test_configs_build(name):
    from mmengine.registry import MODELS
    for cfg_name in (f'{name}_conv4_mini-imagenet-5way-1shot.py', f'{name}_conv4_synth-fewshot-5way-5shot.py',
                     f'{name}_conv4_digits-fewshot-5way-1shot.py'):
        cfg = Config.fromfile(osp.join(ROOT, 'configs/fewshot', cfg_name))
        with DefaultScope.overwrite_default_scope(cfg.default_scope):
            model = MODELS.build(cfg.model)
        assert type(model).__name__ == cfg.model.type
        assert cfg.test_dataloader.dataset.num_episodes == 600
        assert cfg.test_evaluator.type == 'FewShotMetric'
