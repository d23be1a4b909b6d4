"""Connectors (channel adapter, spatial resize) between recorders and losses: shapes, trained with the
student, saved in the distiller's checkpoints, dropped by the export; the mismatch error that names the
recorders, both shapes and the connector to add (no silent resize); one loss over several levels with
per-level weights."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope

import mmlavit  # noqa: F401
from mmlavit.models import ChannelAdapter, ConnectorChain, PKDLoss, SingleTeacherDistiller, SpatialResize
from mmlavit.models.distillers import build_connector, student_state_dict

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def _cls(arch, num_classes=10):
    # three stages out: resnet8 (16, 16, 32, 64) widths -> (16, 32², 32, 16², 64, 8²) at 32 px;
    # resnet8x4 (32, 64, 128, 256) -> 64, 128, 256 channels at the same sizes
    return dict(type='ImageClassifier', backbone=dict(type='CifarResNet', arch=arch, out_indices=(0, 1, 2)),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=num_classes,
                          in_channels=64 * (4 if 'x4' in arch else 1), loss=dict(type='CrossEntropyLoss')),
                data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=num_classes))


def _distiller(tmp_path, losses, loss_inputs, student='resnet8', teacher='resnet8x4'):
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    t = MODELS.build(_cls(teacher))
    t.init_weights()
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save({'state_dict': t.state_dict()}, ckpt)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return SingleTeacherDistiller(
            student=_cls(student), teacher=dict(model=_cls(teacher), checkpoint=ckpt, scope='mmpretrain'),
            recorders=dict(feat=dict(type='ModuleOutputs', source='backbone')), losses=losses,
            loss_inputs=loss_inputs)


def _batch(n=4):
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 3, 32, 32, generator=g), [DataSample().set_gt_label(i % 10) for i in range(n)]


def test_connector_modules_shapes_and_modes():
    x = torch.randn(2, 16, 8, 6)
    a = ChannelAdapter(16, 32, norm_cfg=dict(type='BN'))
    assert a(x).shape == (2, 32, 8, 6) and a.conv.with_norm
    with pytest.raises(ValueError, match='in_channels=16.*set in_channels'):
        a(torch.randn(2, 8, 4, 4))
    ref = torch.randn(2, 3, 4, 3)
    for mode in ('nearest', 'bilinear', 'bicubic', 'area', 'adaptive_avg', 'adaptive_max'):
        assert SpatialResize(mode)(x, ref).shape == (2, 16, 4, 3)  # to the other side's H x W
    assert torch.allclose(SpatialResize('adaptive_avg')(x, ref), F.adaptive_avg_pool2d(x, (4, 3)))
    assert SpatialResize('nearest', size=5)(x).shape == (2, 16, 5, 5)
    assert SpatialResize('bilinear', scale_factor=0.5)(x).shape == (2, 16, 4, 3)
    assert SpatialResize('bilinear')(x, x) is x  # already the target size: unchanged
    with pytest.raises(ValueError, match='mode must be one of'):
        SpatialResize('linear')
    with pytest.raises(ValueError, match='give size'):
        SpatialResize('bilinear')(x, torch.randn(2, 5))
    chain = build_connector([dict(type='ChannelAdapter', in_channels=16, out_channels=4),
                             dict(type='SpatialResize', mode='area')], 'here')
    assert isinstance(chain, ConnectorChain) and chain(x, ref).shape == (2, 4, 4, 3)
    with pytest.raises(ValueError, match='here: a connector is'):
        build_connector([dict(in_channels=1)], 'here')


def test_connectors_trained_saved_and_dropped_on_export(tmp_path, tool):
    # FitNet-style: student stages 1 and 2 (32 and 64 channels) regress the teacher's (128, 256), each through
    # its own learned adapter; stage 2 also through a (here identity) resize, to show a chain
    d = _distiller(tmp_path, losses=dict(loss_fit=dict(type='FeatureMSELoss', level_weights=(1.0, 0.5))),
                   loss_inputs=dict(loss_fit=dict(
                       student=dict(recorder='feat', levels=(1, 2), level_connectors=[
                           dict(type='ChannelAdapter', in_channels=32, out_channels=128),
                           [dict(type='ChannelAdapter', in_channels=64, out_channels=256,
                                 norm_cfg=dict(type='BN')), dict(type='SpatialResize', mode='bilinear')]]),
                       teacher=dict(recorder='feat', levels=(1, 2)))))
    keys = [k for k in d.state_dict() if k.startswith('connectors.')]
    assert 'connectors.loss_fit.student.0.0.conv.conv.weight' in keys
    assert 'connectors.loss_fit.student.1.0.conv.bn.running_mean' in keys
    names = {n for n, p in d.named_parameters() if p.requires_grad}
    assert 'connectors.loss_fit.student.1.0.conv.conv.weight' in names  # the runner's optimizer sees them
    d.train()
    inputs, samples = _batch()
    losses = d(inputs, samples, mode='loss')
    # the loss is the weighted MSE between the adapted student levels and the teacher's
    with torch.no_grad(), d.recording():
        d.student(inputs, mode='tensor')
        d.teacher(inputs, mode='tensor')
        s = d.student_recorders['feat'].get()
        t = d.teacher_recorders['feat'].get()
        conn = d.connectors['loss_fit']['student']
        want = F.mse_loss(conn[0](s[1]), t[1]) + 0.5 * F.mse_loss(conn[1](s[2], t[2]), t[2])
    assert torch.allclose(losses['distill.loss_fit'], want, rtol=1e-4)
    sum(losses.values()).backward()
    assert d.connectors['loss_fit']['student'][1][0].conv.conv.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in d.teacher.parameters())
    # saved in the distiller's checkpoint, loaded back (resume), dropped by the exporter
    ckpt = tmp_path / 'distilled.pth'
    torch.save({'state_dict': d.state_dict(), 'meta': {}}, ckpt)
    d2 = _distiller(tmp_path, losses=dict(loss_fit=dict(type='FeatureMSELoss', level_weights=(1.0, 0.5))),
                    loss_inputs=dict(loss_fit=dict(
                        student=dict(recorder='feat', levels=(1, 2), level_connectors=[
                            dict(type='ChannelAdapter', in_channels=32, out_channels=128),
                            [dict(type='ChannelAdapter', in_channels=64, out_channels=256,
                                  norm_cfg=dict(type='BN')), dict(type='SpatialResize', mode='bilinear')]]),
                        teacher=dict(recorder='feat', levels=(1, 2)))))
    d2.load_state_dict(d.state_dict())
    for k, v in d.connectors.state_dict().items():
        assert torch.equal(v, d2.connectors.state_dict()[k])
    res = tool(['tools/model_converters/distill_to_student.py', str(ckpt), str(tmp_path / 'student.pth')])
    assert res.returncode == 0, res.stderr[-3000:]
    assert f'left out: connectors {len(keys)}' in res.stdout
    sd = torch.load(tmp_path / 'student.pth', map_location='cpu')['state_dict']
    assert not any('connectors' in k or k.startswith(('student.', 'teacher.')) for k in sd)
    from mmpretrain.registry import MODELS
    MODELS.build(_cls('resnet8')).load_state_dict(sd, strict=True)
    assert sd.keys() == student_state_dict(d.state_dict()).keys()


def test_mismatch_without_connector_names_recorders_shapes_and_connector(tmp_path):
    inputs, samples = _batch()
    route = dict(student=dict(recorder='feat', item=2), teacher=dict(recorder='feat', item=2))
    d = _distiller(tmp_path, losses=dict(loss_pkd=dict(type='PKDLoss')), loss_inputs=dict(loss_pkd=route))
    with pytest.raises(ValueError) as e:
        d(inputs, samples, mode='loss')
    msg = str(e.value)
    assert msg.startswith("model.losses.loss_pkd (student <- 'feat', teacher <- 'feat')")
    assert '(4, 64, 8, 8)' in msg and '(4, 256, 8, 8)' in msg
    assert "connector=dict(type='ChannelAdapter', in_channels=64, out_channels=256)" in msg
    assert 'model.loss_inputs.loss_pkd.student' in msg
    # same channels after an adapter, other sizes: never resized silently — the error names SpatialResize
    adapter = dict(type='ChannelAdapter', in_channels=32, out_channels=256)
    d = _distiller(tmp_path, losses=dict(loss_pkd=dict(type='PKDLoss')), loss_inputs=dict(loss_pkd=dict(
        student=dict(recorder='feat', item=1, connector=adapter), teacher=dict(recorder='feat', item=2))))
    with pytest.raises(ValueError, match=r"\(4, 256, 16, 16\).*\(4, 256, 8, 8\).*SpatialResize', mode="):
        d(inputs, samples, mode='loss')
    # with the connector the config names, it runs
    d = _distiller(tmp_path, losses=dict(loss_pkd=dict(type='PKDLoss')), loss_inputs=dict(loss_pkd=dict(
        student=dict(recorder='feat', item=1, connector=[adapter, dict(type='SpatialResize', mode='area')]),
        teacher=dict(recorder='feat', item=2))))
    assert torch.isfinite(d(inputs, samples, mode='loss')['distill.loss_pkd'])


def test_one_loss_over_levels_with_weights_and_spec_errors(tmp_path):
    levels = dict(recorder='feat', levels=(0, 1, 2))
    d = _distiller(tmp_path, losses=dict(loss_pkd=dict(type='PKDLoss', loss_weight=2.0,
                                                       level_weights=(1.0, 0.5, 0.25))),
                   loss_inputs=dict(loss_pkd=dict(student=levels, teacher=levels)), teacher='resnet14')
    inputs, samples = _batch()
    out = d(inputs, samples, mode='loss')['distill.loss_pkd']
    with torch.no_grad(), d.recording():
        d.student(inputs, mode='tensor')
        d.teacher(inputs, mode='tensor')
        s, t = d.student_recorders['feat'].get(), d.teacher_recorders['feat'].get()
    want = 2.0 * sum(w * PKDLoss()(a, b) for w, a, b in zip((1.0, 0.5, 0.25), s, t))
    assert len(s) == 3 and torch.allclose(out, want, rtol=1e-5)

    def build(spec, losses=None):
        return _distiller(tmp_path, losses=losses or dict(loss_pkd=dict(type='PKDLoss')),
                          loss_inputs=dict(loss_pkd=dict(student=spec, teacher=levels)), teacher='resnet14')

    adapter = dict(type='ChannelAdapter', in_channels=16, out_channels=16)
    with pytest.raises(ValueError, match='levels is a tuple of indices'):
        build(dict(recorder='feat', levels=2))
    with pytest.raises(KeyError, match=r"unknown keys \['level'\]"):
        build(dict(recorder='feat', level=(0, 1)))
    with pytest.raises(ValueError, match='level_connectors needs levels'):
        build(dict(recorder='feat', level_connectors=[adapter]))
    with pytest.raises(ValueError, match='from_data spec takes no other keys'):
        build(dict(from_data='gt_label', connector=adapter))
    with pytest.raises(ValueError, match="learned connector on the teacher's side would never train"):
        _distiller(tmp_path, losses=dict(loss_pkd=dict(type='PKDLoss')), loss_inputs=dict(loss_pkd=dict(
            student=levels, teacher=dict(recorder='feat', item=0, connector=adapter))), teacher='resnet14')
    with pytest.raises(IndexError, match=r'levels \[5\] are out of range: recorder .feat. gives 3 levels'):
        build(dict(recorder='feat', levels=(0, 1, 5)))(inputs, samples, mode='loss')
    with pytest.raises(ValueError, match='picks entries of a sequence'):
        build(dict(recorder='feat', item=0, levels=(0,)))(inputs, samples, mode='loss')
    with pytest.raises(ValueError, match='a connector on several levels needs levels'):
        build(dict(recorder='feat', connector=adapter))(inputs, samples, mode='loss')
    with pytest.raises(ValueError, match='the student gives 2 levels, the teacher 3'):
        build(dict(recorder='feat', levels=(0, 1)))(inputs, samples, mode='loss')
