"""SingleTeacherDistiller, recorders, the long-tail wrapper and the CIFAR ResNets."""
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import _load_checkpoint_to_model

import mmlavit  # noqa: F401
from mmlavit.datasets import LongTailDataset, long_tail_counts
from mmlavit.models import CifarResNet, SingleTeacherDistiller, student_state_dict, to_logits

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def _cls(arch, num_classes=10):
    return dict(type='ImageClassifier', backbone=dict(type='CifarResNet', arch=arch),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=num_classes, in_channels=64,
                          loss=dict(type='CrossEntropyLoss')),
                data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=num_classes))


def _save_teacher(path, arch='resnet14', num_classes=10):
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    t = MODELS.build(_cls(arch, num_classes))
    t.init_weights()
    torch.save({'state_dict': t.state_dict()}, path)
    return t


def _batch(n=6, num_classes=10, size=32):
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(1)
    inputs = torch.randn(n, 3, size, size, generator=g)
    samples = [DataSample().set_gt_label(int(i % num_classes)) for i in range(n)]
    return inputs, samples


def _distiller(tmp_path, losses=None, loss_inputs=None, recorders=None, **kw):
    ckpt = str(tmp_path / 'teacher.pth')
    teacher = _save_teacher(ckpt)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        d = SingleTeacherDistiller(
            student=_cls('resnet8'),
            teacher=dict(model=_cls('resnet14'), checkpoint=ckpt, scope='mmpretrain'),
            recorders=recorders or dict(logits=dict(type='ModuleOutputs', source='head.fc')),
            losses=losses or dict(loss_kd=dict(type='KDLoss', temperature=4.0)), loss_inputs=loss_inputs,
            **kw)
    return d, teacher


def test_teacher_loaded_frozen_eval_and_losses_logged(tmp_path):
    d, teacher = _distiller(tmp_path, losses=dict(loss_kd=dict(type='KDLoss'), loss_dkd=dict(type='DKDLoss'),
                                                  loss_clkd=dict(type='CLKDLoss')), student_loss_weight=0.1)
    for k, v in teacher.state_dict().items():  # the checkpoint's weights, not a re-initialisation
        assert torch.equal(d.teacher.state_dict()[k], v)
    d.init_weights()
    key = 'backbone.stem.0.weight'
    assert torch.equal(d.teacher.state_dict()[key], teacher.state_dict()[key])
    d.train()
    assert not d.teacher.training and d.student.training
    assert all(not p.requires_grad for p in d.teacher.parameters())
    inputs, samples = _batch()
    losses = d(inputs, samples, mode='loss')
    assert {'loss_student', 'distill.loss_kd', 'distill.loss_dkd', 'distill.loss_clkd'} == set(losses)
    # the student's CE is scaled by student_loss_weight: compare with the plain student's loss
    ce = d.student.loss(inputs, samples)['loss']
    assert torch.allclose(losses['loss_student'], 0.1 * ce, atol=1e-6)
    total, log = d.parse_losses(losses)
    assert torch.allclose(log['loss'], sum(losses.values()))  # the logged `loss` is the total
    total.backward()
    assert all(p.grad is None for p in d.teacher.parameters())
    assert d.student.backbone.stem[0].weight.grad.abs().sum() > 0
    # the recorded logits are exactly the two models' head outputs
    with torch.no_grad():
        want_t = d.teacher(inputs, mode='tensor')
    with d.recording():
        d.teacher(inputs, mode='tensor')
        assert torch.allclose(d.teacher_recorders['logits'].get(), want_t)
    assert d.teacher_recorders.stored() == 0


def test_distill_loss_value_matches_kd_on_the_two_models(tmp_path):
    d, _ = _distiller(tmp_path)
    d.eval()  # BN in eval so that the student's forward is deterministic across calls
    inputs, samples = _batch()
    losses = d.loss(inputs, samples)
    with torch.no_grad():
        zs, zt = d.student(inputs, mode='tensor'), d.teacher(inputs, mode='tensor')
    from mmlavit.models import KDLoss
    assert torch.allclose(losses['distill.loss_kd'], KDLoss(4.0)(zs, zt), atol=1e-6)


def test_checkpoint_without_teacher_and_export_to_plain_student(tmp_path):
    d, _ = _distiller(tmp_path, losses=dict(loss_trg=dict(type='TRGLoss', student_dim=64, teacher_dim=64)),
                      recorders=dict(feat=dict(source='backbone')),
                      loss_inputs=dict(loss_trg=dict(student=dict(recorder='feat', item=-1),
                                                     teacher=dict(recorder='feat', item=-1))))
    sd = d.state_dict()
    assert not any(k.startswith('teacher.') for k in sd)
    assert any(k.startswith('distill_losses.loss_trg.projector') for k in sd)
    # a checkpoint without the teacher loads back with no missing teacher keys (mmengine's loader)
    before = {k: v.clone() for k, v in d.teacher.state_dict().items()}
    _load_checkpoint_to_model(d, {'state_dict': sd}, strict=True)
    assert all(torch.equal(before[k], v) for k, v in d.teacher.state_dict().items())
    # save_teacher=True keeps it
    d.save_teacher = True
    assert any(k.startswith('teacher.') for k in d.state_dict())
    # export: the plain student config loads the exported weights strictly
    from mmpretrain.registry import MODELS
    plain = MODELS.build(_cls('resnet8'))
    plain.load_state_dict(student_state_dict(sd), strict=True)
    with pytest.raises(KeyError, match='student'):
        student_state_dict({'backbone.x': torch.zeros(1)})


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(KeyError, match='no submodule named "head.fcc"; close names: head.fc'):
        _distiller(tmp_path, recorders=dict(logits=dict(source='head.fcc')))
    with pytest.raises(KeyError, match='recorder "feat"'):
        _distiller(tmp_path, loss_inputs=dict(loss_kd=dict(student='feat', teacher='logits')))
    with pytest.raises(ValueError, match='has no argument'):
        _distiller(tmp_path,
                   loss_inputs=dict(loss_kd=dict(student='logits', teacher='logits', target='gt_label')))
    with pytest.raises(ValueError, match='teacher.checkpoint is not set'), \
            DefaultScope.overwrite_default_scope('mmpretrain'):
        SingleTeacherDistiller(student=_cls('resnet8'),
                               teacher=dict(model=_cls('resnet8'), scope='mmpretrain'),
                               losses=dict(loss_kd=dict(type='KDLoss')))
    with pytest.raises(FileNotFoundError, match='train the teacher first'), \
            DefaultScope.overwrite_default_scope('mmpretrain'):
        SingleTeacherDistiller(student=_cls('resnet8'),
                               teacher=dict(model=_cls('resnet8'), scope='mmpretrain', checkpoint='nope.pth'),
                               losses=dict(loss_kd=dict(type='KDLoss')))


def test_to_logits_layouts():
    x = torch.arange(2 * 6 * 2 * 3, dtype=torch.float).reshape(2, 6, 2, 3)  # (B, A·C, H, W), A=2, C=3
    dense = to_logits(x, 'dense', num_classes=3)
    assert dense.shape == (2 * 2 * 3 * 2, 3)
    # row for (b=1, h=0, w=2, anchor=1) holds channels 3..5 of that position
    row = ((1 * 2 + 0) * 3 + 2) * 2 + 1
    assert torch.equal(dense[row], x[1, 3:6, 0, 2])
    pix = to_logits(x, 'nchw')
    assert pix.shape == (12, 6) and torch.equal(pix[5], x[0, :, 1, 2])
    assert to_logits([x, x[:, :, :1]], 'nchw').shape == (12 + 6, 6)
    with pytest.raises(ValueError, match='num_classes'):
        to_logits(x, 'dense')


def test_thin_config_over_a_stock_mmpretrain_config(tmp_path):
    """`_base_ = 'mmpretrain::...'` + `model = dict(type='SingleTeacherDistiller', student={{_base_.model}})`
    builds through the Runner's registry path (its top-level data_preprocessor merged in as the Runner
    does)."""
    ckpt = tmp_path / 'r34.pth'
    cfg = Config.fromfile(osp.join(ROOT, 'configs/distill/kd/kd_resnet34-resnet18_in1k.py'))
    from mmpretrain.registry import MODELS

    # a small stand-in for the ImageNet teacher: the same model config, random weights saved to disk
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        from mmengine.hub import get_config
        t = MODELS.build(get_config('mmpretrain::resnet/resnet34_8xb32_in1k.py').model)
        torch.save({'state_dict': t.state_dict()}, ckpt)
    cfg.model.teacher.checkpoint = str(ckpt)
    assert cfg.model.type == 'SingleTeacherDistiller' and cfg.model.student.type == 'ImageClassifier'
    model_cfg = cfg.model.to_dict()
    model_cfg['data_preprocessor'] = cfg.data_preprocessor.to_dict()  # what mmengine's Runner merges in
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        d = MODELS.build(model_cfg)
    assert type(d.student.backbone).__name__ == 'ResNet' and d.student.backbone.depth == 18
    assert d.teacher.backbone.depth == 34 and not d.teacher.training
    inputs = torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8)
    from mmpretrain.structures import DataSample
    samples = [DataSample().set_gt_label(1), DataSample().set_gt_label(3)]
    data = d.data_preprocessor(dict(inputs=list(inputs), data_samples=samples), True)
    losses = d(**data, mode='loss')
    assert losses['distill.loss_kd'] > 0 and torch.isfinite(losses['loss_student'])


def test_recorders_keep_nothing_outside_the_loss(tmp_path):
    """predict / tensor forwards (validation, testing) record nothing; after a loss the storage is empty."""
    d, _ = _distiller(tmp_path)
    inputs, samples = _batch()
    stored = lambda: d.student_recorders.stored() + d.teacher_recorders.stored()  # noqa: E731
    d.eval()
    for _ in range(5):
        with torch.no_grad():
            d(inputs, samples, mode='predict')
        assert stored() == 0
    d(inputs, mode='tensor')
    assert stored() == 0
    d.train()
    d(inputs, samples, mode='loss')
    assert stored() == 0
    with d.recording():  # inside a recording both models' calls are kept
        d.student(inputs, mode='tensor')
        d.teacher(inputs, mode='tensor')
        assert stored() == 2
    assert stored() == 0


def test_loss_inputs_from_data_and_errors(tmp_path):
    from mmlavit.models.distillers import DATA_FIELDS
    d, _ = _distiller(tmp_path, losses=dict(loss_dkd=dict(type='DKDLoss')))  # default: target from gt_label
    assert d.loss_inputs.routes['loss_dkd']['target'] == dict(from_data='gt_label')
    inputs, samples = _batch()
    assert torch.isfinite(d(inputs, samples, mode='loss')['distill.loss_dkd'])
    with pytest.raises(KeyError, match=r"gt_label write dict\(from_data="):
        _distiller(tmp_path, losses=dict(loss_dkd=dict(type='DKDLoss')),
                   loss_inputs=dict(loss_dkd=dict(student='logits', teacher='logits', target='gt_label')))
    with pytest.raises(KeyError, match="unknown from_data field 'labels'; known fields: gt_label"):
        _distiller(tmp_path, losses=dict(loss_dkd=dict(type='DKDLoss')),
                   loss_inputs=dict(loss_dkd=dict(target=dict(from_data='labels'))))
    with pytest.raises(KeyError, match='not in losses'):
        _distiller(tmp_path, loss_inputs=dict(loss_kd=dict(student='logits'), loss_xx=dict()))
    # the det / seg fields read their data samples
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    seg = [SegDataSample(gt_sem_seg=PixelData(data=torch.full((1, 4, 5), i))) for i in range(2)]
    got = DATA_FIELDS['gt_sem_seg'][2](seg)
    assert got.shape == (2, 4, 5) and got.dtype == torch.long and got[1].eq(1).all()
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    det = DetDataSample(gt_instances=InstanceData(labels=torch.tensor([2, 0]), bboxes=torch.zeros(2, 4)))
    assert DATA_FIELDS['gt_instances.labels'][2]([det])[0].tolist() == [2, 0]


def test_progress_is_read_from_the_message_hub(tmp_path):
    """Warm-ups ramp with iter / max_iters from mmengine's MessageHub (RuntimeInfoHook): no hook of ours."""
    from mmengine.logging import MessageHub
    d, _ = _distiller(tmp_path, losses=dict(loss_dkd=dict(type='DKDLoss', warmup=0.5)))
    hub = MessageHub.get_instance('test_progress_is_read_from_the_message_hub')
    hub.update_info('max_iters', 100)
    hub.update_info('iter', 10)
    inputs, samples = _batch()
    d.train()
    d(inputs, samples, mode='loss')
    assert d.distill_losses['loss_dkd'].ramp == pytest.approx(10 / 100 / 0.5)
    d.auto_progress = False
    hub.update_info('iter', 90)
    d(inputs, samples, mode='loss')
    assert d.distill_losses['loss_dkd'].ramp == pytest.approx(0.2)


def test_teacher_checkpoint_that_does_not_fit_names_keys_and_paths(tmp_path):
    ckpt = str(tmp_path / 'teacher.pth')
    _save_teacher(ckpt, arch='resnet14', num_classes=10)
    mismatch = r'does not fit the teacher model config.*shape mismatches.*head\.fc'
    with pytest.raises(KeyError, match=mismatch), \
            DefaultScope.overwrite_default_scope('mmpretrain'):
        SingleTeacherDistiller(student=_cls('resnet8'),
                               teacher=dict(model=_cls('resnet14', 7), checkpoint=ckpt, scope='mmpretrain'),
                               losses=dict(loss_kd=dict(type='KDLoss')),
                               recorders=dict(logits='head.fc'))
    cfg = tmp_path / 'teacher_cfg.py'
    cfg.write_text(f"default_scope = 'mmpretrain'\nmodel = {_cls('resnet20')!r}\n")
    where = re.escape(f'{ckpt}" does not fit teacher config "{cfg}"')
    with pytest.raises(KeyError, match=where + '.*model keys missing from the checkpoint'), \
            DefaultScope.overwrite_default_scope('mmpretrain'):
        SingleTeacherDistiller(student=_cls('resnet8'), teacher=dict(config=str(cfg), checkpoint=ckpt),
                               losses=dict(loss_kd=dict(type='KDLoss')), recorders=dict(logits='head.fc'))
    # strict=False warns and loads what fits
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        d = SingleTeacherDistiller(student=_cls('resnet8'), losses=dict(loss_kd=dict(type='KDLoss')),
                                   teacher=dict(config=str(cfg), checkpoint=ckpt, strict=False),
                                   recorders=dict(logits='head.fc'))
    assert not d.teacher.training


def test_old_distiller_block_fails_at_once_with_the_new_form(tmp_path):
    from mmengine.runner import Runner

    from mmlavit.apis import load_config
    from mmlavit.models.distillers import LegacyDistillerConfigError
    p = tmp_path / 'old.py'
    p.write_text(f"_base_ = '{ROOT}/configs/distill/baselines/resnet8_synth-cls100.py'\n"
                 "distiller = dict(teacher=dict(config='t.py', checkpoint='t.pth'),\n"
                 "                 losses=dict(loss_dkd=dict(type='DKDLoss')),\n"
                 "                 loss_inputs=dict(loss_dkd=dict(student='logits', teacher='logits', "
                 "target='gt_label')))\n")
    with pytest.raises(LegacyDistillerConfigError) as e:
        load_config(str(p))
    msg = str(e.value)
    assert str(p) in msg and "type='SingleTeacherDistiller'" in msg and 'student={{_base_.model}}' in msg
    assert "'target': {'from_data': 'gt_label'}" in msg
    # the printed form is a valid config: pasted over the same base it builds a distiller config
    new = tmp_path / 'new.py'
    new.write_text(p.read_text().split('distiller = ')[0] + msg.split('\n\n')[1] + '\n')
    assert Config.fromfile(str(new)).model.type == 'SingleTeacherDistiller'
    # Runner.from_cfg (upstream tools, mim) refuses it too once mmlavit is imported
    with pytest.raises(LegacyDistillerConfigError, match='no longer read'):
        Runner.from_cfg(Config.fromfile(str(p)))


def test_long_tail_wrapper():
    assert long_tail_counts(500, 100, 100)[0] == 500 and long_tail_counts(500, 100, 100)[-1] == 5
    assert sum(long_tail_counts(500, 100, 100)) == 10847  # CIFAR-100-LT's size at factor 100
    assert long_tail_counts(40, 10, 10) == [40, 30, 23, 18, 14, 11, 8, 6, 5, 4]
    with pytest.raises(ValueError, match='imbalance_factor'):
        long_tail_counts(10, 3, 0.5)

    class Fake:
        metainfo = dict(classes=[str(c) for c in range(4)])

        def __init__(self):
            self.labels = [c for c in range(4) for _ in range(20)]

        def __len__(self):
            return len(self.labels)

        def get_cat_ids(self, i):
            return [self.labels[i]]

        def __getitem__(self, i):
            return i

        def get_data_info(self, i):
            return dict(gt_label=self.labels[i])

    lt = LongTailDataset(Fake(), imbalance_factor=10, seed=0)
    counts = [int((lt.get_gt_labels() == c).sum()) for c in range(4)]
    assert counts == long_tail_counts(20, 4, 10) == [20, 9, 4, 2]
    assert len(lt) == sum(counts) and lt.metainfo['classes'] == ['0', '1', '2', '3']
    assert [lt.get_cat_ids(i)[0] for i in range(len(lt))] == sorted(lt.get_gt_labels().tolist())
    assert LongTailDataset(Fake(), 10, seed=0).indices == lt.indices  # deterministic by seed
    assert LongTailDataset(Fake(), 10, seed=1).indices != lt.indices


@pytest.mark.parametrize('arch,params', [('resnet8x4', 1.23), ('resnet32x4', 7.43), ('resnet20', 0.28),
                                         ('resnet56', 0.86), ('resnet110', 1.74)])
def test_cifar_resnets_match_the_papers_sizes(arch, params):
    m = CifarResNet(arch)
    n = sum(p.numel() for p in m.parameters()) + m.out_channels[0] * 100 + 100  # + the 100-class fc
    assert abs(n / 1e6 - params) / params < 0.02
    assert m(torch.randn(2, 3, 32, 32))[0].shape == (2, m.out_channels[0], 8, 8)


def test_narrow_resnet8_students():
    full, half = CifarResNet('resnet8'), CifarResNet('resnet8x0.5')
    assert half.out_channels == [32] and CifarResNet('resnet8x0.25').out_channels == [16]
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert 0.2 < n(half) / n(full) < 0.3  # conv weights scale with width²
    assert half(torch.randn(2, 3, 16, 16))[0].shape == (2, 32, 4, 4)


def test_teacher_gets_inputs_in_its_own_normalisation(tmp_path):
    """A teacher trained on raw BGR pixels (no mean/std) under a student that normalises and swaps to RGB:
    the distiller hands the teacher exactly what the teacher's own preprocessor makes of the same images."""
    norm = dict(type='ClsDataPreprocessor', num_classes=10, mean=[120., 110., 100.], std=[60., 50., 40.],
                to_rgb=True)
    raw_t = _cls('resnet14')  # ClsDataPreprocessor without mean/std: raw pixels
    ckpt = str(tmp_path / 'teacher.pth')
    _save_teacher(ckpt)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        d = SingleTeacherDistiller(student={**_cls('resnet8'), 'data_preprocessor': norm},
                                   teacher=dict(model=raw_t, checkpoint=ckpt, scope='mmpretrain'),
                                   recorders=dict(logits=dict(type='ModuleOutputs', source='head.fc')),
                                   losses=dict(loss_kd=dict(type='KDLoss')))
        same = SingleTeacherDistiller(student={**_cls('resnet8'), 'data_preprocessor': norm},
                                      teacher=dict(model={**_cls('resnet14'), 'data_preprocessor': norm},
                                                   checkpoint=ckpt, scope='mmpretrain'),
                                      losses=dict(loss_kd=dict(type='KDLoss')),
                                      recorders=dict(logits=dict(type='ModuleOutputs', source='head.fc')))
    pixels = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    student_batch = d.data_preprocessor(dict(inputs=list(pixels)), False)['inputs']
    teacher_batch = d.teacher.data_preprocessor(dict(inputs=list(pixels)), False)['inputs']
    assert not torch.allclose(student_batch, teacher_batch)
    assert torch.allclose(d.teacher_inputs(student_batch), teacher_batch, atol=1e-4)
    assert same.teacher_inputs(student_batch) is student_batch  # same normalisation: untouched
    with pytest.raises(ValueError, match='input channels'):
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            SingleTeacherDistiller(student={**_cls('resnet8'), 'data_preprocessor': norm},
                                   teacher=dict(model={**_cls('resnet14'), 'data_preprocessor': dict(
                                       type='ClsDataPreprocessor', mean=[0.], std=[1.])}, checkpoint=ckpt,
                                       scope='mmpretrain'),
                                   losses=dict(loss_kd=dict(type='KDLoss')),
                                   recorders=dict(logits=dict(type='ModuleOutputs', source='head.fc')))


def test_input_normalisation_reads_mmdet_and_mmseg_preprocessors():
    from mmdet.models import DetDataPreprocessor
    from mmseg.models import SegDataPreProcessor

    from mmlavit.models.distillers import input_normalisation
    mean, std = [1., 2., 3.], [4., 5., 6.]
    for pre in (DetDataPreprocessor(mean=mean, std=std, bgr_to_rgb=True),
                SegDataPreProcessor(mean=mean, std=std, bgr_to_rgb=True)):
        m, s, swap = input_normalisation(pre)
        assert m.tolist() == mean and s.tolist() == std and swap is True
    m, s, swap = input_normalisation(DetDataPreprocessor())
    assert m is None and s is None and swap is False
    assert input_normalisation(None) is None
