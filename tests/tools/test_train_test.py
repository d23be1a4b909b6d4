"""tools/train.py, tools/test.py and tools/dist_train.sh on small configs of mmpretrain, mmdet and mmseg."""
import glob
import json
import os
import os.path as osp
import subprocess

import pytest
import torch

import mmlavit  # noqa: F401  (safe globals for torch.load below)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _data_opts(root, loaders=('train', 'val', 'test')):
    return [f'{split}_dataloader.dataset.data_root={root}' for split in loaders]


def _fast(loaders=('train', 'val', 'test'), bs=2):
    return [o for s in loaders for o in (f'{s}_dataloader.batch_size={bs}', f'{s}_dataloader.num_workers=0',
                                         f'{s}_dataloader.persistent_workers=False')]


def _scalars(work_dir):
    recs = []
    for p in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(p) as f:
            recs += [json.loads(line) for line in f]
    return recs


def _ok(res):
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res


CLS = 'configs/lavit/lavit-t_synth-cls.py'


def test_classification_train_resume_test_load_from(tool, cls_root, tmp_path):
    wd = str(tmp_path / 'wd')
    # the fixture has 4 classes: the head must match or the visualiser indexes past the class names
    opts = ['--cfg-options', *_data_opts(cls_root), *_fast(bs=8), 'train_cfg.val_interval=1',
            'model.head.num_classes=4', 'data_preprocessor.num_classes=4',
            'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1']
    _ok(tool(['tools/train.py', CLS, '--work-dir', wd, *opts, 'train_cfg.max_epochs=1']))
    ck1 = torch.load(osp.join(wd, 'epoch_1.pth'), map_location='cpu')  # weights_only default: allowed types
    assert ck1['meta']['epoch'] == 1 and ck1['meta']['iter'] == 4  # 32 images / batch 8

    # --resume continues the same run: epoch, iteration, optimizer state and the metric history
    res = _ok(tool(['tools/train.py', CLS, '--work-dir', wd, '--resume', *opts, 'train_cfg.max_epochs=2']))
    assert 'resumed epoch: 1, iter: 4' in (res.stdout + res.stderr)
    ck2 = torch.load(osp.join(wd, 'epoch_2.pth'), map_location='cpu')
    assert ck2['meta']['epoch'] == 2 and ck2['meta']['iter'] == 8
    st1, st2 = ck1['optimizer']['state'], ck2['optimizer']['state']
    assert int(st2[0]['step']) == int(st1[0]['step']) + 4  # Adam's step count carried on
    steps = [r['step'] for r in _scalars(wd) if 'accuracy/top1' in r]
    assert steps == [1, 2]
    losses = [r['loss_dp'] for r in _scalars(wd) if 'loss_dp' in r]
    assert losses and all(v > 0 for v in losses)  # the DP loss is in the training log

    # test.py evaluates the checkpoint; --show-dir writes painted images
    res = _ok(tool(['tools/test.py', CLS, osp.join(wd, 'epoch_2.pth'), '--work-dir', str(tmp_path / 'test'),
                    '--show-dir', 'vis', '--cfg-options', *_data_opts(cls_root), *_fast(),
                    'model.head.num_classes=4', 'data_preprocessor.num_classes=4']))
    assert 'accuracy/top1' in res.stdout + res.stderr
    assert glob.glob(str(tmp_path / 'test' / 'vis' / '*.png'))

    # the synth detector initialises its backbone from this classifier (init_cfg Pretrained, prefix)
    _detector_loads_backbone(osp.join(wd, 'epoch_2.pth'))

    # load_from (a fresh run initialised from the checkpoint)
    _ok(tool(['tools/train.py', CLS, '--work-dir', str(tmp_path / 'wd2'), *opts, 'train_cfg.max_epochs=1',
              f'load_from={osp.join(wd, "epoch_2.pth")}']))


def _detector_loads_backbone(ckpt):
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(osp.join(ROOT, 'configs/lavit/mask-rcnn_lavit-t_fpn_synth-coco.py'))
    cfg.model.backbone.init_cfg.checkpoint = ckpt
    init_default_scope('mmdet')
    det = MODELS.build(cfg.model)
    det.init_weights()
    src = {k[len('backbone.'):]: v for k, v in torch.load(ckpt, map_location='cpu')['state_dict'].items()
           if k.startswith('backbone.')}
    dst = det.backbone.state_dict()
    assert set(src) == set(dst)  # no missing, no unexpected keys
    assert all(torch.equal(src[k], dst[k]) for k in dst)


def test_missing_pretrained_checkpoint_fails_fast(tool, coco_root, tmp_path):
    res = tool(['tools/train.py', 'configs/lavit/mask-rcnn_lavit-t_fpn_synth-coco.py', '--work-dir',
                str(tmp_path / 'wd'), '--cfg-options', *_data_opts(coco_root),
                'model.backbone.init_cfg.checkpoint=/nonexistent/cls.pth'])
    assert res.returncode == 2
    assert '/nonexistent/cls.pth' in res.stderr and 'configs/lavit/lavit-t_synth-cls.py' in res.stderr
    assert 'model.backbone.init_cfg=None' in res.stderr and not (tmp_path / 'wd').exists()


def test_missing_dataset_fails_fast_with_a_clear_message(tool, tmp_path):
    wd = tmp_path / 'wd'
    res = tool(['tools/train.py', 'configs/lavit/mask-rcnn_lavit.py', '--work-dir', str(wd),
                '--cfg-options', 'train_dataloader.dataset.data_root=/nonexistent/coco/'])
    assert res.returncode == 2
    err = res.stderr
    assert '/nonexistent/coco/' in err and 'generate_data.py coco' in err
    assert 'configs/lavit/mask-rcnn_lavit-t_fpn_synth-coco.py' in err and 'annotations/instances_' in err
    assert not wd.exists()  # nothing written
    # an existing work dir is left untouched
    wd.mkdir()
    (wd / 'epoch_1.pth').write_bytes(b'keep')
    res = tool(['tools/train.py', 'configs/lavit/mask-rcnn_lavit.py', '--work-dir', str(wd),
                '--cfg-options', 'train_dataloader.dataset.data_root=/nonexistent/coco/'])
    assert res.returncode == 2 and [p.name for p in wd.iterdir()] == ['epoch_1.pth']
    assert (wd / 'epoch_1.pth').read_bytes() == b'keep'
    res = tool(['tools/test.py', CLS, str(tmp_path / 'missing.pth')])
    assert res.returncode == 2 and 'missing.pth' in res.stderr


DOWNSTREAM = {
    'mask-rcnn': ('configs/lavit/mask-rcnn_lavit-t_fpn_synth-coco.py', 'coco/segm_mAP'),
    'retinanet': ('configs/lavit/retinanet_lavit-t_fpn_synth-coco.py', 'coco/bbox_mAP'),
    'fpn': ('configs/lavit/fpn_lavit-t_synth-ade20k.py', 'mIoU'),
    'upernet': ('configs/lavit/upernet_lavit-t_synth-ade20k.py', 'mIoU'),
}


@pytest.mark.parametrize('name', list(DOWNSTREAM))
def test_downstream_small_configs_train_and_evaluate(name, tool, coco_root, ade_root, tmp_path):
    cfg, metric = DOWNSTREAM[name]
    wd = str(tmp_path / 'wd')
    if name in ('mask-rcnn', 'retinanet'):
        ann = osp.join(coco_root, 'annotations', 'instances_val2017.json')
        opts = [*_data_opts(coco_root), f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}',
                'train_cfg.max_epochs=1', 'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1']
    else:
        opts = [*_data_opts(ade_root), 'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
                'default_hooks.checkpoint.interval=4']
    if name == 'retinanet':  # after 4 iterations no score passes the focal-loss prior's 0.05 threshold
        opts.append('model.test_cfg.score_thr=0.0')
    opts += _fast()
    if name == 'mask-rcnn':  # from scratch: the small classifier's checkpoint is not needed here
        opts.append('model.backbone.init_cfg=None')
    res = _ok(tool(['tools/train.py', cfg, '--work-dir', wd, '--cfg-options', *opts]))
    assert metric in res.stdout + res.stderr
    assert any('loss_dp' in r for r in _scalars(wd))
    if name in ('mask-rcnn', 'fpn'):  # inference with painted predictions
        ckpt = sorted(glob.glob(osp.join(wd, '*.pth')))[-1]
        _ok(tool(['tools/test.py', cfg, ckpt, '--work-dir', str(tmp_path / 't'), '--show-dir',
                  str(tmp_path / 'show'), '--cfg-options', *opts]))
        assert glob.glob(str(tmp_path / 'show' / '**' / '*.*g'), recursive=True)


def test_dist_train_two_processes_gloo(repo_root, cls_root, tmp_path):
    wd = str(tmp_path / 'wd')
    env = dict(os.environ, PORT='29533', OMP_NUM_THREADS='1', PYTHON=os.sys.executable)
    res = subprocess.run(['bash', 'tools/dist_train.sh', CLS, '2', '--work-dir', wd, '--cfg-options',
                          *_data_opts(cls_root), *_fast(bs=4), 'train_cfg.max_epochs=1',
                          'train_cfg.val_interval=1'],
                         cwd=repo_root, capture_output=True, text=True, timeout=600, env=env)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    assert 'Distributed training: True' in out and 'accuracy/top1' in out
    ck = torch.load(osp.join(wd, 'epoch_1.pth'), map_location='cpu')
    assert ck['meta']['iter'] == 4  # 32 images / (2 processes x batch 4)
