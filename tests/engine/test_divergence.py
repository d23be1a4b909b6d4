"""DivergenceGuardHook: the non-finite terms it finds, and on one small config per scope a diverging run that
stops with the message, a non-zero exit and the earlier good checkpoint intact (max_keep_ckpts=1). The same
run under DDP (every rank stops at the same iteration) is in the launch that tests/tools/test_ddp_equality.py
shares with its 2-process cases."""
import math
import os.path as osp

import pytest
import torch

import mmlavit  # noqa: F401  (safe globals for torch.load)
from mmlavit.engine.divergence import nonfinite_terms, nonfinite_weights

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_nonfinite_terms_names_each_bad_entry():
    log_vars = dict(loss=torch.tensor(float('nan')), loss_cls=torch.tensor(1.5),
                    loss_bbox=[torch.tensor(1.0), torch.tensor(float('inf'))], acc=torch.tensor(90.0),
                    loss_dp=float('-inf'), count=torch.tensor(3))
    bad = nonfinite_terms(log_vars)
    assert list(bad) == ['loss', 'loss_bbox', 'loss_dp']
    assert math.isnan(bad['loss']) and bad['loss_bbox'] == float('inf') and bad['loss_dp'] == float('-inf')
    assert nonfinite_terms(dict(loss=torch.tensor(0.3))) == {} and nonfinite_terms(None) == {}


def test_nonfinite_weights_lists_the_parameters():
    m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    assert nonfinite_weights(m.state_dict()) == []
    with torch.no_grad():
        m[1].running_var[0] = float('inf')
    assert nonfinite_weights(m.state_dict()) == ['1.running_var']


# A schedule that multiplies the LR by 1e30 after the first epoch (iteration 2 for the iteration-based
# segmentation config): the first checkpoint is good, the run diverges right after it.
BLOW_UP = {'epoch': "param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[1], "
                    "gamma=1e30)]\n",
           'iter': "param_scheduler = [dict(type='MultiStepLR', by_epoch=False, milestones=[2], "
                   "gamma=1e30)]\n"}


def _fast(bs=4):
    return [o for sp in ('train', 'val', 'test')
            for o in (f'{sp}_dataloader.batch_size={bs}', f'{sp}_dataloader.num_workers=0',
                      f'{sp}_dataloader.persistent_workers=False')]


CASES = {
    'cls': ('configs/lavit/lavit-t_synth-cls.py', 'epoch', 'cls_root',
            ['model.head.num_classes=4', 'data_preprocessor.num_classes=4', 'train_cfg.max_epochs=3',
             'train_cfg.val_interval=10', 'default_hooks.checkpoint.interval=1'], 'epoch_1.pth'),
    'det': ('configs/lavit/retinanet_lavit-t_fpn_synth-coco.py', 'epoch', 'coco_root',
            ['train_cfg.max_epochs=3', 'train_cfg.val_interval=10', 'default_hooks.checkpoint.interval=1'],
            'epoch_1.pth'),
    'seg': ('configs/lavit/fpn_lavit-t_synth-ade20k.py', 'iter', 'ade_root',
            ['train_cfg.max_iters=6', 'train_cfg.val_interval=100', 'default_hooks.checkpoint.interval=2',
             'default_hooks.logger.interval=1'], 'iter_2.pth'),
}


@pytest.mark.parametrize('scope', list(CASES))
def test_diverging_run_stops_and_keeps_the_good_checkpoint(scope, tool, tmp_path, request):
    config, kind, root_fixture, opts, good = CASES[scope]
    root = request.getfixturevalue(root_fixture)
    cfg = tmp_path / 'diverge.py'
    cfg.write_text(f"_base_ = '{osp.join(ROOT, config)}'\n" + BLOW_UP[kind])
    wd = tmp_path / 'wd'
    if kind == 'epoch' and scope == 'det':
        ann = osp.join(root, 'annotations', 'instances_val2017.json')
        opts = opts + [f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}']
    res = tool(['tools/train.py', str(cfg), '--work-dir', str(wd), '--cfg-options',
                *[f'{sp}_dataloader.dataset.data_root={root}' for sp in ('train', 'val', 'test')], *_fast(),
                'default_hooks.checkpoint.max_keep_ckpts=1', *opts])
    out = res.stdout + res.stderr
    assert res.returncode != 0, out[-3000:]
    assert 'DivergenceError: Training diverged at iteration' in out, out[-3000:]
    assert 'non-finite loss terms: loss=nan' in out or 'the weights are non-finite' in out
    if kind == 'epoch':
        assert '(epoch 2, iteration' in out
    assert f'the last good checkpoint, {wd / good}, is kept' in out
    ckpts = sorted(p.name for p in wd.glob('*.pth'))
    assert ckpts == [good]  # nothing of the diverged state, and max_keep_ckpts did not remove the good one
    assert (wd / 'last_checkpoint').read_text().strip() == str(wd / good)
    state = torch.load(wd / good, map_location='cpu')['state_dict']
    assert nonfinite_weights(state) == []
