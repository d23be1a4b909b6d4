"""Distillation through the tools: thin configs over mmpretrain, mmdet and mmseg models, checkpoint export."""
import os.path as osp

import pytest
import torch
from mmengine.registry import DefaultScope

import mmlavit  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _fast(bs=2):
    return [o for s in ('train', 'val', 'test') for o in (f'{s}_dataloader.batch_size={bs}',
                                                          f'{s}_dataloader.num_workers=0',
                                                          f'{s}_dataloader.persistent_workers=False')]


def _ok(res):
    assert res.returncode == 0, f'exit {res.returncode}\n' + res.stdout[-2000:] + res.stderr[-4000:]
    return res


def _random_teacher(config, path):
    """A teacher checkpoint with the right keys (random weights): these tests check the plumbing."""
    from mmlavit.models.distillers import load_teacher_config
    cfg = load_teacher_config(config if '::' in config else osp.join(ROOT, config))
    cfg.model.pop('pretrained', None)
    if 'init_cfg' in cfg.model.get('backbone', {}):
        cfg.model.backbone.init_cfg = None  # no download: the weights are random anyway
    from mmengine.registry import MODELS
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        m = MODELS.build(cfg.model)
    torch.save({'state_dict': m.state_dict()}, path)
    return str(path)


def test_classification_distill_export_and_load_into_plain_student(tool, cls_root, tmp_path):
    data = [f'{s}_dataloader.dataset.data_root={cls_root}' for s in ('train', 'val', 'test')]
    small = ['model.head.num_classes=4', 'data_preprocessor.num_classes=4', 'train_cfg.max_epochs=1',
             'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1', *_fast(8), *data]
    small_d = ['model.student.head.num_classes=4', *small[1:]]  # a distiller: the student's head
    # the teacher, trained by its own config for one epoch
    _ok(tool(['tools/train.py', 'configs/distill/baselines/resnet32_synth-cls100.py', '--work-dir',
              str(tmp_path / 't'), '--cfg-options', *small]))
    teacher = str(tmp_path / 't' / 'epoch_1.pth')
    wd = str(tmp_path / 's')
    res = _ok(tool(['tools/train.py', 'configs/distill/trg/trg_resnet32-resnet8_synth-cls100.py',
                    '--work-dir', wd, '--cfg-options', *small_d, f'model.teacher.checkpoint={teacher}',
                    'model.teacher.cfg_options.model.head.num_classes=4']))
    out = res.stdout + res.stderr
    for key in ('distill.loss_kd', 'distill.loss_trg_inner', 'distill.loss_trg_local',
                'distill.loss_trg_global'):
        assert key in out
    ck = torch.load(osp.join(wd, 'epoch_1.pth'), map_location='cpu')
    assert not any(k.startswith('teacher.') for k in ck['state_dict'])
    # each term's pull on the student, from the trained checkpoint
    res = _ok(tool(['tools/analysis_tools/distill_gradients.py',
                    'configs/distill/trg/trg_resnet32-resnet8_synth-cls100.py', '--checkpoint',
                    osp.join(wd, 'epoch_1.pth'), '--batches', '2', '--out', str(tmp_path / 'g.md'),
                    '--cfg-options', *small_d, f'model.teacher.checkpoint={teacher}',
                    'model.teacher.cfg_options.model.head.num_classes=4']))
    rows = {r.split('|')[1].strip(): [float(x) for x in r.split('|')[2:5]]
            for r in (tmp_path / 'g.md').read_text().splitlines() if r.startswith('| distill.')}
    assert set(rows) == {'distill.loss_kd', 'distill.loss_trg_inner', 'distill.loss_trg_local',
                         'distill.loss_trg_global'}
    assert rows['distill.loss_kd'][2] == pytest.approx(1.0, abs=1e-5)  # the reference, against itself
    assert all(g > 0 and -1 <= c <= 1 for _, g, c in rows.values())
    # export, then evaluate with the plain student config
    _ok(tool(['tools/model_converters/distill_to_student.py', osp.join(wd, 'epoch_1.pth'),
              str(tmp_path / 'student.pth')]))
    sd = torch.load(str(tmp_path / 'student.pth'), map_location='cpu')['state_dict']
    assert set(sd) and not any(k.startswith(('student.', 'teacher.', 'distill')) for k in sd)
    res = _ok(tool(['tools/test.py', 'configs/distill/baselines/resnet8_synth-cls100.py',
                    str(tmp_path / 'student.pth'), '--work-dir', str(tmp_path / 'e'),
                    '--cfg-options', *small]))
    assert 'accuracy/top1' in res.stdout + res.stderr


def test_missing_teacher_checkpoint_fails_fast(tool, cls_root, tmp_path):
    data = [f'{s}_dataloader.dataset.data_root={cls_root}' for s in ('train', 'val', 'test')]
    wd = tmp_path / 'wd'
    res = tool(['tools/train.py', 'configs/distill/kd/kd_resnet32-resnet8_synth-cls100.py', '--work-dir',
                str(wd), '--cfg-options', *data, 'model.teacher.checkpoint=nowhere/teacher.pth'])
    assert res.returncode == 2
    assert 'nowhere/teacher.pth' in res.stderr
    assert 'configs/distill/baselines/resnet32_synth-cls100.py' in res.stderr
    assert not wd.exists()


@pytest.mark.parametrize('script', ['tools/train.py', 'mmpretrain'])
def test_old_distiller_block_fails_at_once_in_our_and_the_upstream_tool(script, tool, cls_root, tmp_path):
    """A config of the old form (top-level `distiller` block): our tool and mmpretrain's own train.py stop
    before training, with the new `model = dict(type='SingleTeacherDistiller', ...)` in the message."""
    import mmpretrain
    if script == 'mmpretrain':
        script = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools', 'train.py')
    old = tmp_path / 'old_kd.py'
    old.write_text(f"_base_ = '{ROOT}/configs/distill/baselines/resnet8_synth-cls100.py'\n"
                   "distiller = dict(\n"
                   "    teacher=dict(config='configs/distill/baselines/resnet32_synth-cls100.py',\n"
                   "                 checkpoint='t.pth'),\n"
                   "    losses=dict(loss_kd=dict(type='KDLoss', temperature=4.0)))\n")
    wd = tmp_path / 'wd'
    res = tool([script, str(old), '--work-dir', str(wd)])
    assert res.returncode != 0
    assert 'LegacyDistillerConfigError' in res.stderr and "type='SingleTeacherDistiller'" in res.stderr
    assert not list(wd.glob('*.pth')) and 'Epoch(train)' not in res.stdout + res.stderr


@pytest.mark.parametrize('config,teacher_config,metric', [
    ('configs/distill/trg/trg_retinanet_lavit-t-r18_synth-coco.py',
     'configs/lavit/retinanet_lavit-t_fpn_synth-coco.py', 'coco/bbox_mAP'),
    ('configs/distill/trg/trg_fpn_lavit-t-r18_synth-ade20k.py', 'configs/lavit/fpn_lavit-t_synth-ade20k.py',
     'mIoU')])
def test_detection_and_segmentation_distillers_run(config, teacher_config, metric, tool, coco_root, ade_root,
                                                   tmp_path):
    teacher = _random_teacher(teacher_config, tmp_path / 'teacher.pth')
    if 'coco' in config:
        ann = osp.join(coco_root, 'annotations', 'instances_val2017.json')
        opts = [f'{s}_dataloader.dataset.data_root={coco_root}' for s in ('train', 'val', 'test')]
        opts += [f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}', 'train_cfg.max_epochs=1',
                 'train_cfg.val_interval=1', 'model.student.test_cfg.score_thr=0.0']
    else:
        opts = [f'{s}_dataloader.dataset.data_root={ade_root}' for s in ('train', 'val', 'test')]
        opts += ['train_cfg.max_iters=3', 'train_cfg.val_interval=3', 'default_hooks.checkpoint.interval=3',
                 'default_hooks.logger.interval=1']
    res = _ok(tool(['tools/train.py', config, '--work-dir', str(tmp_path / 'wd'), '--cfg-options', *opts,
                    *_fast(),
                    f'model.teacher.checkpoint={teacher}']))
    out = res.stdout + res.stderr
    assert 'distill.loss_kd' in out and 'distill.loss_trg_global' in out and metric in out


def test_divergence_guard_stops_a_diverging_distiller(cls_root, tmp_path):
    """The shipped distillation configs carry DivergenceGuardHook: at lr 1e8 the run stops at the first
    non-finite loss, naming the distillation term, and writes no checkpoint of that state."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from mmlavit.engine import DivergenceError
    teacher_cfg = Config.fromfile(osp.join(ROOT, 'configs/distill/baselines/resnet32_synth-cls100.py'))
    teacher_cfg.model.head.num_classes = 4
    from mmengine.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        torch.save({'state_dict': MODELS.build(teacher_cfg.model).state_dict()}, tmp_path / 't.pth')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/distill/kd/kd_resnet32-resnet8_synth-cls100.py'))
    opts = {'model.student.head.num_classes': 4, 'data_preprocessor.num_classes': 4,
            'model.teacher.checkpoint': str(tmp_path / 't.pth'),
            'model.teacher.cfg_options': {'model.head.num_classes': 4},
            'optim_wrapper.optimizer.lr': 1e8, 'train_cfg.max_epochs': 2, 'train_cfg.val_interval': 2,
            'default_hooks.checkpoint.interval': 1, 'default_hooks.logger.interval': 1}
    for split in ('train', 'val', 'test'):
        opts.update({f'{split}_dataloader.dataset.data_root': cls_root, f'{split}_dataloader.num_workers': 0,
                     f'{split}_dataloader.persistent_workers': False, f'{split}_dataloader.batch_size': 8})
    cfg.merge_from_dict(opts)
    cfg.work_dir = str(tmp_path / 'wd')
    assert [h['type'] for h in cfg.custom_hooks] == ['DivergenceGuardHook', 'RandomStateHook']
    with pytest.raises(DivergenceError, match='distill.loss_kd'):
        Runner.from_cfg(cfg).train()
    assert not list((tmp_path / 'wd').glob('*.pth'))
