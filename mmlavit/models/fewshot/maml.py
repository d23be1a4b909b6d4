"""MAML (Finn et al., 2017), ANIL (Raghu et al., 2020) and BOIL (Oh et al., 2021) as mmengine models.

One class, :class:`MAML`, with the inner loop written functionally (``torch.func.functional_call`` over a
dict of parameters): ``θ' = θ − α ∇_θ CE(f_θ(x_s), y_s)`` for ``inner_steps`` steps, on

* MAML: every parameter (body and head);
* ANIL: the head only (the body's features are computed once per task);
* BOIL: the body only (conv + BN affine); the head is learned in the outer loop only.

Second order by default (``first_order=True``: FOMAML, the inner gradients are not differentiated). Batch
norm uses the statistics of the batch it sees (the backbones set ``track_running_stats=False``): support
and query are normalised by their own statistics, at meta-train and meta-test. A training step takes a
meta-batch of tasks (the dataloader's batch size) and averages their query losses; the Runner's optimizer
(Adam in the configs) makes the outer step.

Inputs (from :class:`~mmlavit.datasets.EpisodicDataset` through
:class:`~mmlavit.models.fewshot.EpisodeDataPreprocessor`): lists over tasks of ``support_img`` (N·K, 3, H, W),
``support_label`` (N·K,), ``query_img`` (N·Q, 3, H, W), ``query_label`` (N·Q,).
"""
import logging
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModel
from torch.func import functional_call

from mmlavit.registry import build_model, register

Params = Dict[str, torch.Tensor]


class Learner(nn.Module):
    """``body`` (a backbone returning ``(B, D)``) + linear ``head`` (D -> N ways)."""

    def __init__(self, body: nn.Module, feat_dim: int, num_ways: int, img_size: Optional[int] = None):
        super().__init__()
        self.body = body
        self.head = nn.Linear(feat_dim, num_ways)
        self.img_size = img_size

    def forward(self, x: torch.Tensor, features_only: bool = False) -> torch.Tensor:
        f = self.body(x)
        if f.ndim > 2:
            f = f.flatten(1)
        if f.shape[1] != self.head.in_features:
            raise ValueError(f'the backbone gives {f.shape[1]} features for {tuple(x.shape[-2:])} inputs, '
                             f'the head takes {self.head.in_features} (it was sized for model.img_size='
                             f'{self.img_size}): set model.img_size to the size the pipeline gives')
        return f if features_only else self.head(f)


def _sub(params: Params, prefix: str) -> Params:
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


@register('model')
class MAML(BaseModel):
    """Args:
        backbone: body config (``Conv4``, ``ResNet12``...), returning ``(B, D)`` features.
        num_ways: N (the head's outputs).
        img_size, in_channels: input size, used once to infer the feature dim D.
        inner: ``'all'`` (MAML) | ``'head'`` (ANIL) | ``'body'`` (BOIL).
        inner_steps, inner_lr: meta-training inner loop; ``test_inner_steps`` / ``test_inner_lr`` at meta-test
            (default: the same).
        first_order: FOMAML (no second-order terms).
    """
    default_inner = 'all'

    def __init__(self, backbone: dict, num_ways: int = 5, img_size: int = 84, in_channels: int = 3,
                 inner: Optional[str] = None,
                 inner_steps: int = 1, inner_lr: float = 0.5, test_inner_steps: Optional[int] = None,
                 test_inner_lr: Optional[float] = None, first_order: bool = False,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='mmlavit.EpisodeDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        body = build_model(backbone) if isinstance(backbone, dict) else backbone
        with torch.no_grad():
            feat_dim = body.train()(torch.zeros(2, in_channels, img_size, img_size)).flatten(1).shape[1]
        self.learner = Learner(body, feat_dim, num_ways, img_size)
        self.num_ways = num_ways
        self.inner = inner or self.default_inner
        if self.inner not in ('all', 'head', 'body'):
            raise ValueError(f"inner must be 'all' (MAML), 'head' (ANIL) or 'body' (BOIL), "
                             f"got {self.inner!r}")
        self.inner_steps, self.inner_lr = inner_steps, inner_lr
        self.test_inner_steps = inner_steps if test_inner_steps is None else test_inner_steps
        self.test_inner_lr = inner_lr if test_inner_lr is None else test_inner_lr
        self.first_order = first_order

    # ----------------------------------------------------------------------------------- inner loop
    @property
    def inner_names(self) -> List[str]:
        prefix = {'all': '', 'head': 'head.', 'body': 'body.'}[self.inner]
        return [n for n, _ in self.learner.named_parameters() if n.startswith(prefix)]

    def params(self) -> Params:
        return dict(self.learner.named_parameters())

    def logits(self, x: torch.Tensor, params: Params, feats: Optional[torch.Tensor] = None) -> torch.Tensor:
        if feats is not None:  # ANIL: features of a body that the inner loop does not change
            return functional_call(self.learner.head, _sub(params, 'head.'), (feats,))
        return functional_call(self.learner, params, (x,))

    def features(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return functional_call(self.learner, params, (x,), dict(features_only=True))

    def adapt(self, x: torch.Tensor, y: torch.Tensor, params: Optional[Params] = None,
              steps: Optional[int] = None, lr: Optional[float] = None,
              create_graph: Optional[bool] = None) -> Params:
        """``steps`` SGD steps of ``CE(f(x), y)`` on the inner parameters, starting from ``params`` (θ).
        Returns the adapted parameter dict (the others are passed through unchanged)."""
        params = self.params() if params is None else params
        steps = (self.inner_steps if self.training else self.test_inner_steps) if steps is None else steps
        lr = (self.inner_lr if self.training else self.test_inner_lr) if lr is None else lr
        if create_graph is None:
            create_graph = self.training and not self.first_order and torch.is_grad_enabled()
        names = self.inner_names
        feats = self.features(x, params) if self.inner == 'head' else None
        for _ in range(steps):
            loss = F.cross_entropy(self.logits(x, params, feats), y)
            grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=create_graph)
            params = dict(params)
            for n, g in zip(names, grads):
                params[n] = params[n] - lr * g
        return params

    def query_logits(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return self.logits(x, params)

    # -------------------------------------------------------------------------------------- per task
    def task(self, xs, ys, xq, yq) -> Dict[str, torch.Tensor]:
        """One task: adapt on the support set, predict the query set. Returns ``logits`` and (training)
        ``loss``; subclasses add pseudo-labelling."""
        fast = self.adapt(xs, ys)
        logits = self.query_logits(xq, fast)
        out = dict(logits=logits)
        if self.training:
            out['loss'] = F.cross_entropy(logits, yq)
        return out

    def _tasks(self, inputs: dict):
        labels = inputs['support_label']
        ways = int(max(int(y.max()) for y in labels)) + 1 if len(labels) and labels[0].numel() else 0
        if ways > self.num_ways:
            raise ValueError(f'the episodes have {ways} ways, the model was built for model.num_ways='
                             f"{self.num_ways}: set model.num_ways to the dataset's num_ways")
        return zip(inputs['support_img'], labels, inputs['query_img'], inputs['query_label'])

    def forward(self, inputs: dict, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs)
        if mode == 'predict':
            return self.predict(inputs)
        with torch.enable_grad():
            return [self.task(*t)['logits'].detach() for t in self._tasks(inputs)]

    def _episodes(self, inputs: dict) -> List[int]:
        """The dataset index of each task of the batch (its position in the batch when not recorded)."""
        ep = inputs.get('episode')
        return [int(e) for e in ep] if ep is not None else list(range(len(inputs['support_img'])))

    def loss(self, inputs: dict) -> Dict[str, torch.Tensor]:
        """Per-task values averaged over the meta-batch. A task whose loss terms are non-finite is **not**
        dropped: the mean turns non-finite (so ``DivergenceGuardHook`` stops the run) and a warning names
        the task's position in the batch, its episode index and the terms."""
        tasks = list(self._tasks(inputs))
        outs = [self.task(*t) for t in tasks]
        episodes = self._episodes(inputs)
        bad = {}
        for i, o in enumerate(outs):
            terms = [k for k, v in o.items()
                     if k != 'logits' and not torch.isfinite(torch.as_tensor(v)).all()]
            if terms:
                bad[i] = terms
        if bad:
            desc = '; '.join(f'task {i} (episode {episodes[i]}): {", ".join(t)}' for i, t in bad.items())
            print_log(f'{type(self).__name__}: {len(bad)} of {len(outs)} tasks of this meta-batch have '
                      f'non-finite values, kept in the means: {desc}', logger='current',
                      level=logging.WARNING)
        losses = {k: torch.stack([torch.as_tensor(o[k], dtype=torch.float) for o in outs]).mean()
                  for k in outs[0] if k != 'logits'}  # loss, and e.g. loss_lp, picked of the GP models
        with torch.no_grad():
            losses['acc'] = torch.stack([(o['logits'].argmax(1) == t[3]).float().mean()
                                         for o, t in zip(outs, tasks)]).mean()
        losses['nonfinite_tasks'] = torch.tensor(float(len(bad)))
        return losses

    def predict(self, inputs: dict) -> List[dict]:
        """Meta-test: adapt each task (gradients on, even under the val loop's no_grad) and return its query
        accuracy (``dict(accuracy=..., pred=..., episode=...)`` per task) for
        :class:`~mmlavit.evaluation.FewShotMetric`. A task whose query logits are non-finite gets
        ``accuracy=nan`` and ``nonfinite=True`` (the metric reports it; an argmax over NaN would still give
        a number)."""
        results = []
        with torch.enable_grad():
            for (xs, ys, xq, yq), ep in zip(self._tasks(inputs), self._episodes(inputs)):
                out = self.task(xs, ys, xq, yq)
                logits = out['logits'].detach()
                pred = logits.argmax(1)
                finite = bool(torch.isfinite(logits).all())
                acc = (pred == yq).float().mean().item() if finite else float('nan')
                r = dict(accuracy=acc, pred=pred.cpu(), episode=ep, nonfinite=not finite, num_queries=len(yq))
                for k in ('picked', 'pseudo_correct'):
                    if k in out:
                        r[k] = float(out[k])
                results.append(r)
        return results


@register('model')
class ANIL(MAML):
    """MAML with the inner loop on the head only (``inner='head'``)."""
    default_inner = 'head'


@register('model')
class BOIL(MAML):
    """MAML with the inner loop on the body only (``inner='body'``); the head moves in the outer loop only."""
    default_inner = 'body'
