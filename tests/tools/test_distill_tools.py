"""Distillation through the tools: thin configs over mmpretrain, mmdet and mmseg models, checkpoint export."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmlavit  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _fast(bs=2):
    return [o for l in ('train', 'val', 'test') for o in (f'{l}_dataloader.batch_size={bs}',
                                                          f'{l}_dataloader.num_workers=0',
                                                          f'{l}_dataloader.persistent_workers=False')]


def _ok(res):
    assert res.returncode == 0, f'exit {res.returncode}\n' + res.stdout[-2000:] + res.stderr[-4000:]
    return res


def _random_teacher(config, path):
    """A teacher checkpoint with the right keys (random weights): these tests check the plumbing."""
    from mmlavit.models.distillers.single_teacher import load_teacher_config
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
    # each term's pull on the student, from the trained checkpoint
    res = _ok(tool(['tools/analysis_tools/distill_gradients.py',
                    'configs/distill/trg_resnet32-resnet8_synth-cls100.py', '--checkpoint',
                    osp.join(wd, 'epoch_1.pth'), '--batches', '2', '--out', str(tmp_path / 'g.md'),
                    '--cfg-options', *small, f'distiller.teacher.checkpoint={teacher}',
                    'distiller.teacher.cfg_options.model.head.num_classes=4']))
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


def _stock_distill(tmp_path, text, teacher_config, scope):
    """A user's thin config: the stock student config as `_base_` and a `distiller` block (random teacher)."""
    from mmlavit.models import apply_distiller
    teacher = _random_teacher(teacher_config, tmp_path / 'teacher.pth')
    p = tmp_path / 'user_distill.py'
    p.write_text(text.replace('TEACHER_CKPT', teacher))
    cfg = apply_distiller(Config.fromfile(str(p)))
    from mmengine.registry import MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
    return model.train()


def test_thin_config_over_stock_mmdet_config(tmp_path):
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    model = _stock_distill(tmp_path, """
_base_ = 'mmdet::retinanet/retinanet_r18_fpn_1x_coco.py'
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
model = dict(backbone=dict(init_cfg=None))  # no download in the test
cls_logits = dict(recorder='cls', call='all', layout='dense', num_classes=80)
distiller = dict(
    teacher=dict(config='mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', checkpoint='TEACHER_CKPT'),
    recorders=dict(cls=dict(type='ModuleOutputs', source='bbox_head.retina_cls')),
    losses=dict(loss_kd=dict(type='KDLoss', temperature=2.0)),
    loss_inputs=dict(loss_kd=dict(student=cls_logits, teacher=cls_logits)))
""", 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', 'mmdet')
    samples = []
    for _ in range(2):
        s = DetDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64), scale_factor=(1., 1.)))
        s.gt_instances = InstanceData(bboxes=torch.tensor([[8., 8., 40., 48.]]), labels=torch.tensor([3]))
        samples.append(s)
    data = model.data_preprocessor(dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)] * 2,
                                        data_samples=samples), True)
    losses = model(**data, mode='loss')
    assert {'loss_cls', 'loss_bbox', 'distill.loss_kd'} <= set(losses)
    sum(v if torch.is_tensor(v) else sum(v) for k, v in losses.items() if 'loss' in k).backward()
    assert not any(p.grad is not None for p in model.teacher.parameters())


def test_thin_config_over_stock_mmseg_config(tmp_path):
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData
    model = _stock_distill(tmp_path, """
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
model = dict(pretrained=None, data_preprocessor=dict(size=(64, 64)))
pix = dict(recorder='logits', layout='nchw')
distiller = dict(
    teacher=dict(config='mmseg::sem_fpn/fpn_r101_4xb4-160k_ade20k-512x512.py', checkpoint='TEACHER_CKPT',
                 cfg_options=dict(model=dict(pretrained=None))),
    recorders=dict(logits=dict(type='ModuleOutputs', source='decode_head.conv_seg')),
    losses=dict(loss_kd=dict(type='KDLoss', temperature=1.0)),
    loss_inputs=dict(loss_kd=dict(student=pix, teacher=pix)))
""", 'mmseg::sem_fpn/fpn_r101_4xb4-160k_ade20k-512x512.py', 'mmseg')
    samples = []
    for _ in range(2):
        s = SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 150, (1, 64, 64)))
        samples.append(s)
    data = model.data_preprocessor(dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)] * 2,
                                        data_samples=samples), True)
    losses = model(**data, mode='loss')
    assert {'decode.loss_ce', 'distill.loss_kd'} <= set(losses)
