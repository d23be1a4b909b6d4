"""``--auto-scale-lr``, ``--tta``, ``--out`` (+ mmpretrain's ``--out-item``) of tools/train.py and
tools/test.py behave as the upstream tool of each scope (mmlavit.apis.tool_parity); one small config per
scope, one training iteration."""
import glob
import os.path as osp
import pickle

import mmengine
import pytest
import torch
from mmengine.config import Config

import mmlavit  # noqa: F401
from mmlavit.apis.tool_parity import ToolFlagError, apply_tta, enable_auto_scale_lr, output_for

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLS = 'configs/lavit/lavit-t_synth-cls.py'
DET = 'configs/lavit/retinanet_lavit-t_fpn_synth-coco.py'
SEG = 'configs/lavit/fpn_lavit-t_synth-ade20k.py'


def _cfg(path):
    return Config.fromfile(osp.join(ROOT, path))


def _ok(res):
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout + res.stderr


def _loaders(root, bs=2, n=None, extra=()):
    opts = []
    for split in ('train', 'val', 'test'):
        opts += [f'{split}_dataloader.dataset.data_root={root}', f'{split}_dataloader.batch_size={bs}',
                 f'{split}_dataloader.num_workers=0', f'{split}_dataloader.persistent_workers=False']
        if n is not None:
            opts.append(f'{split}_dataloader.dataset.indices={n}')
    return [*opts, *extra]


def _initial_lr(ckpt):
    return torch.load(ckpt, map_location='cpu')['optimizer']['param_groups'][0]['initial_lr']


# --- the per-scope rules, on the configs themselves ---------------------------------------------------------

def test_auto_scale_lr_rules_per_scope():
    cls = _cfg(CLS)
    with pytest.raises(ToolFlagError, match=r'auto_scale_lr\.base_batch_size'):
        enable_auto_scale_lr(cls)  # our classifier has none; mmpretrain's tool would raise AttributeError
    cls.merge_from_dict({'auto_scale_lr.base_batch_size': 16})
    enable_auto_scale_lr(cls)  # mmpretrain: `enable` need not be in the config
    assert cls.auto_scale_lr == dict(base_batch_size=16, enable=True)

    det = _cfg(DET)
    enable_auto_scale_lr(det)
    assert det.auto_scale_lr.enable is True
    del det.auto_scale_lr['enable']
    with pytest.raises(ToolFlagError, match=r'auto_scale_lr\.enable'):  # mmdet's tool requires the key
        enable_auto_scale_lr(det)

    seg = _cfg(SEG)
    with pytest.raises(ToolFlagError, match='base_batch_size'):
        enable_auto_scale_lr(seg)


def test_default_tta_per_scope():
    cls = _cfg(CLS)
    apply_tta(cls)  # mmpretrain's default: average the scores of the image and its flip
    assert cls.model.type == 'AverageClsScoreTTA' and cls.model.module.type == 'ImageClassifier'
    tta = cls.test_dataloader.dataset.pipeline[-1]
    assert tta.type == 'TestTimeAug' and [t['prob'] for t in tta.transforms[0]] == [1., 0.]

    det = _cfg(DET)
    apply_tta(det)
    assert det.model.type == 'DetTTAModel' and det.model.tta_cfg.nms.iou_threshold == 0.5
    assert det.test_dataloader.dataset.pipeline[-1].transforms[1][0].type == 'PackDetInputs'

    seg = _cfg(SEG)  # mmseg: no default, the config's own tta_model / tta_pipeline (from mmseg's bases)
    own = seg.tta_pipeline
    apply_tta(seg)
    assert seg.model.type == 'SegTTAModel' and seg.test_dataloader.dataset.pipeline == own
    seg = _cfg(SEG)
    seg._cfg_dict.pop('tta_model')
    seg._cfg_dict.pop('tta_pipeline')
    with pytest.raises(ToolFlagError, match='tta_model / tta_pipeline'):
        apply_tta(seg)


def test_out_rules_per_scope():
    assert type(output_for(_cfg(CLS), 'p.pkl')).__name__ == 'DumpPredictions'
    assert type(output_for(_cfg(DET), 'p.pkl')).__name__ == 'DumpDetPredictions'
    seg = _cfg(SEG)
    out = output_for(seg, '/tmp/mmlavit-seg-out')
    out.configure(seg)
    assert seg.test_evaluator.output_dir == '/tmp/mmlavit-seg-out' and seg.test_evaluator.keep_results
    with pytest.raises(ToolFlagError, match='.pkl'):
        output_for(_cfg(DET), 'p.json')
    with pytest.raises(ToolFlagError, match='--out-item is an mmpretrain flag'):
        output_for(_cfg(DET), 'p.pkl', 'metrics')


# --- end to end, through the tools -------------------------------------------------------------------------

def test_classification_tools(tool, cls_root, tmp_path):
    wd = str(tmp_path / 'wd')
    opts = _loaders(cls_root, bs=8, extra=['model.head.num_classes=4', 'data_preprocessor.num_classes=4'])
    out = _ok(tool(['tools/train.py', CLS, '--work-dir', wd, '--auto-scale-lr', '--cfg-options', *opts,
                    'train_dataloader.dataset.indices=8', 'train_cfg.max_epochs=1',
                    'train_cfg.val_interval=9', 'auto_scale_lr.base_batch_size=4']))
    assert 'Scaling the original LR by 2.0' in out
    ckpt = osp.join(wd, 'epoch_1.pth')
    assert _initial_lr(ckpt) == pytest.approx(2 * _cfg(CLS).optim_wrapper.optimizer.lr)

    preds = str(tmp_path / 'preds.pkl')
    _ok(tool(['tools/test.py', CLS, ckpt, '--work-dir', wd, '--tta', '--out', preds, '--cfg-options', *opts]))
    with open(preds, 'rb') as f:
        samples = pickle.load(f)
    assert len(samples) == 16 and samples[0]['pred_score'].shape == (4, )  # 4 classes x 4 test images
    metrics = str(tmp_path / 'metrics.json')
    _ok(tool(['tools/test.py', CLS, ckpt, '--work-dir', wd, '--out', metrics, '--out-item', 'metrics',
              '--cfg-options', *opts]))
    assert 'accuracy/top1' in mmengine.load(metrics)


def test_detection_tools(tool, coco_root, tmp_path):
    wd = str(tmp_path / 'wd')
    ann = osp.join(coco_root, 'annotations', 'instances_val2017.json')
    opts = _loaders(coco_root, n=2, extra=[f'val_evaluator.ann_file={ann}',
                                           f'test_evaluator.ann_file={ann}', 'model.test_cfg.score_thr=0.0'])
    out = _ok(tool(['tools/train.py', DET, '--work-dir', wd, '--auto-scale-lr', '--cfg-options', *opts,
                    'train_cfg.max_epochs=1', 'train_cfg.val_interval=9']))
    assert 'Scaling the original LR by 0.5' in out  # batch 2 vs the config's base_batch_size=4
    ckpt = osp.join(wd, 'epoch_1.pth')
    assert _initial_lr(ckpt) == pytest.approx(0.5 * _cfg(DET).optim_wrapper.optimizer.lr)

    preds = str(tmp_path / 'det.pkl')
    out = _ok(tool(['tools/test.py', DET, ckpt, '--work-dir', wd, '--tta', '--out', preds,
                    '--cfg-options', *opts]))
    assert 'coco/bbox_mAP' in out
    with open(preds, 'rb') as f:
        dets = pickle.load(f)
    # DumpDetResults: one plain dict per image, the predictions moved to CPU, no image tensors kept
    assert len(dets) == 2 and {'bboxes', 'scores', 'labels'} <= set(dets[0]['pred_instances'])
    assert 'inputs' not in dets[0] and dets[0]['pred_instances']['bboxes'].shape[1] == 4


def test_segmentation_tools(tool, ade_root, tmp_path):
    wd = str(tmp_path / 'wd')
    opts = _loaders(ade_root, n=2)
    out = _ok(tool(['tools/train.py', SEG, '--work-dir', wd, '--auto-scale-lr', '--cfg-options', *opts,
                    'train_cfg.max_iters=1', 'train_cfg.val_interval=9',
                    'default_hooks.checkpoint.interval=1', 'auto_scale_lr.base_batch_size=4']))
    assert 'Scaling the original LR by 0.5' in out
    ckpt = osp.join(wd, 'iter_1.pth')
    assert _initial_lr(ckpt) == pytest.approx(0.5 * _cfg(SEG).optim_wrapper.optimizer.lr)

    pred_dir = tmp_path / 'seg_out'
    out = _ok(tool(['tools/test.py', SEG, ckpt, '--work-dir', wd, '--tta', '--out', str(pred_dir),
                    '--cfg-options', *opts]))
    assert 'SegTTAModel' in out or 'mIoU' in out
    pngs = sorted(glob.glob(str(pred_dir / '*.png')))  # mmseg's --out: one label-id PNG per test image
    assert len(pngs) == 2
