"""LaViT's DP loss reaches the loss dict, the total loss and the gradients in all three pipelines through the
one AuxiliaryLossHook mechanism (no forked model classes)."""
import types

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

import mmlavit  # noqa: F401
from mmlavit.engine import AuxiliaryLossHook

CFG = {
    'mask-rcnn': 'configs/lavit/mask-rcnn_lavit-t_fpn_synth-coco.py',
    'retinanet': 'configs/lavit/retinanet_lavit-t_fpn_synth-coco.py',
    'fpn': 'configs/lavit/fpn_lavit-t_synth-ade20k.py',
    'upernet': 'configs/lavit/upernet_lavit-t_synth-ade20k.py',
    'classifier': 'configs/lavit/lavit-t_synth-cls.py',
}


def _batch(cfg, root, n=2):
    scope = cfg.default_scope
    init_default_scope(scope)
    registry = __import__(f'{scope}.registry', fromlist=['DATASETS']).DATASETS
    ds_cfg = cfg.train_dataloader.dataset.copy()
    ds_cfg['data_root'] = root
    ds = registry.build(ds_cfg)
    return pseudo_collate([ds[i] for i in range(n)])


def _model(cfg):
    registry = __import__(f'{cfg.default_scope}.registry', fromlist=['MODELS']).MODELS
    cfg.model.backbone.init_cfg = None  # the small classifier's checkpoint is not needed here
    model = registry.build(cfg.model)
    model.init_weights()
    return model.train()


@pytest.mark.parametrize('name', list(CFG))
def test_dp_loss_in_log_and_gets_gradients(name, repo_root, coco_root, ade_root, cls_root):
    cfg = Config.fromfile(f'{repo_root}/{CFG[name]}')
    root = {'mask-rcnn': coco_root, 'retinanet': coco_root, 'fpn': ade_root, 'upernet': ade_root,
            'classifier': cls_root}[name]
    assert dict(type='AuxiliaryLossHook') in cfg.custom_hooks
    batch = _batch(cfg, root)
    model = _model(cfg)
    AuxiliaryLossHook().before_train(types.SimpleNamespace(model=model))

    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    total, log_vars = model.parse_losses(losses)
    assert 'loss_dp' in log_vars and log_vars['loss_dp'] > 0
    # the DP loss is part of the optimised total
    others = sum(v.sum() if isinstance(v, torch.Tensor) else sum(x.sum() for x in v)
                 for k, v in losses.items() if 'loss' in k and k != 'loss_dp')
    assert total.item() == pytest.approx((others + losses['loss_dp']).item(), rel=1e-5)
    # and it has gradients on the LA transformation
    theta = [p for n, p in model.backbone.named_parameters() if n.endswith('attn.theta')]
    grads = torch.autograd.grad(losses['loss_dp'], theta, allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_hook_is_idempotent_and_eval_has_no_aux(repo_root, cls_root):
    cfg = Config.fromfile(f'{repo_root}/{CFG["classifier"]}')
    model = _model(cfg)
    runner = types.SimpleNamespace(model=model)
    AuxiliaryLossHook().before_train(runner)
    wrapped = model.parse_losses
    AuxiliaryLossHook().before_train(runner)
    assert model.parse_losses is wrapped
    model.eval()
    with torch.no_grad():
        model.backbone(torch.randn(1, 3, 64, 64))
    assert model.backbone.pop_aux_losses() == {}
