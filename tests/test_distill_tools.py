"""Distillation through the tools: thin configs over mmpretrain, mmdet and mmseg models, checkpoint export."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmlavit  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _fast(bs=2):
    return [o for l in ('train', 'val', 'test') for o in (f'{l}_dataloader.batch_size={bs}',
                                                          f'{l}_dataloader.num_workers=0',
                                                          f'{l}_dataloader.persistent_workers=False')]


def _ok(res):
    assert res.returncode == 0, f'exit {res.returncode}\n' + res.stdout[-2000:] + res.stderr[-4000:]
    return res


def _random_teacher(config, path):
    """A teacher checkpoint with the right keys (random weights): these tests check the plumbing."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    from mmengine.registry import MODELS
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        m = MODELS.build(cfg.model)
    torch.save({'state_dict': m.state_dict()}, path)
    return str(path)


def test_classification_distill_export_and_load_into_plain_student(tool, cls_root, tmp_path):
    data = [f'{l}_dataloader.dataset.data_root={cls_root}' for l in ('train', 'val', 'test')]
    small = ['model.head.num_classes=4', 'data_preprocessor.num_classes=4', 'train_cfg.max_epochs=1',
             'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1', *_fast(8), *data]
    # the teacher, trained by its own config for one epoch
    _ok(tool(['tools/train.py', 'configs/distill/resnet32_synth-cls100.py', '--work-dir', str(tmp_path / 't'),
              '--cfg-options', *small]))
    teacher = str(tmp_path / 't' / 'epoch_1.pth')
    wd = str(tmp_path / 's')
    res = _ok(tool(['tools/train.py', 'configs/distill/trg_resnet32-resnet8_synth-cls100.py', '--work-dir', wd,
                    '--cfg-options', *small, f'distiller.teacher.checkpoint={teacher}',
                    'distiller.teacher.cfg_options.model.head.num_classes=4']))
    out = res.stdout + res.stderr
    for key in ('distill.loss_kd', 'distill.loss_trg_inner', 'distill.loss_trg_local', 'distill.loss_trg_global'):
        assert key in out
    ck = torch.load(osp.join(wd, 'epoch_1.pth'), map_location='cpu')
    assert not any(k.startswith('teacher.') for k in ck['state_dict'])
    # export, then evaluate with the plain student config
    _ok(tool(['tools/model_converters/distill_to_student.py', osp.join(wd, 'epoch_1.pth'),
              str(tmp_path / 'student.pth')]))
    sd = torch.load(str(tmp_path / 'student.pth'), map_location='cpu')['state_dict']
    assert set(sd) and not any(k.startswith(('student.', 'teacher.', 'distill')) for k in sd)
    res = _ok(tool(['tools/test.py', 'configs/distill/resnet8_synth-cls100.py', str(tmp_path / 'student.pth'),
                    '--work-dir', str(tmp_path / 'e'), '--cfg-options', *small]))
    assert 'accuracy/top1' in res.stdout + res.stderr


def test_missing_teacher_checkpoint_fails_fast(tool, cls_root, tmp_path):
    data = [f'{l}_dataloader.dataset.data_root={cls_root}' for l in ('train', 'val', 'test')]
    wd = tmp_path / 'wd'
    res = tool(['tools/train.py', 'configs/distill/kd_resnet32-resnet8_synth-cls100.py', '--work-dir', str(wd),
                '--cfg-options', *data, 'distiller.teacher.checkpoint=nowhere/teacher.pth'])
    assert res.returncode == 2
    assert 'nowhere/teacher.pth' in res.stderr and 'configs/distill/resnet32_synth-cls100.py' in res.stderr
    assert not wd.exists()


@pytest.mark.parametrize('config,teacher_config,metric', [
    ('configs/distill/kd_retinanet_lavit-t-r18_synth-coco.py', 'configs/lavit/retinanet_lavit-t_fpn_synth-coco.py',
     'coco/bbox_mAP'),
    ('configs/distill/kd_fpn_lavit-t-r18_synth-ade20k.py', 'configs/lavit/fpn_lavit-t_synth-ade20k.py', 'mIoU')])
def test_detection_and_segmentation_distillers_run(config, teacher_config, metric, tool, coco_root, ade_root,
                                                   tmp_path):
    teacher = _random_teacher(teacher_config, tmp_path / 'teacher.pth')
    if 'coco' in config:
        ann = osp.join(coco_root, 'annotations', 'instances_val2017.json')
        opts = [f'{l}_dataloader.dataset.data_root={coco_root}' for l in ('train', 'val', 'test')]
        opts += [f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}', 'train_cfg.max_epochs=1',
                 'train_cfg.val_interval=1', 'model.test_cfg.score_thr=0.0']
    else:
        opts = [f'{l}_dataloader.dataset.data_root={ade_root}' for l in ('train', 'val', 'test')]
        opts += ['train_cfg.max_iters=3', 'train_cfg.val_interval=3', 'default_hooks.checkpoint.interval=3',
                 'default_hooks.logger.interval=1']
    res = _ok(tool(['tools/train.py', config, '--work-dir', str(tmp_path / 'wd'), '--cfg-options', *opts, *_fast(),
                    f'distiller.teacher.checkpoint={teacher}']))
    out = res.stdout + res.stderr
    assert 'distill.loss_kd' in out and 'distill.loss_trg_global' in out and metric in out
