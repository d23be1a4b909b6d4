"""Sizes and shapes a user can get wrong fail with a ValueError that names the limit and the setting to
change: LaViT's minimum input side (its spatial-reduction strides), Conv4 / ResNet12's, the few-shot model's
img_size and num_ways, the episodic dataset's ways/shots/queries, and the distiller's logits and TRG dims."""
import pytest
import torch
import torch.nn as nn
from mmengine.registry import DefaultScope

import mmlavit  # noqa: F401
from mmlavit.datasets import EpisodicDataset
from mmlavit.models import SingleTeacherDistiller
from mmlavit.models.backbones.conv4 import Conv4
from mmlavit.models.backbones.lavit import LaViT
from mmlavit.models.backbones.resnet12 import ResNet12
from mmlavit.models.fewshot.maml import MAML


def test_lavit_minimum_side_from_the_sr_ratios():
    assert LaViT.min_input_side((8, 4, 2, 1)) == 29  # tiny / small / base
    assert LaViT.min_input_side(LaViT.arch_zoo['tiny-lowsr']['sr_ratios']) == 13
    assert LaViT.min_input_side((1, 1, 1, 1)) == 1


@pytest.mark.parametrize('arch,side', [('tiny', 29), ('tiny-lowsr', 13)])
def test_lavit_input_under_the_minimum_fails_clearly_in_forward(arch, side):
    m = LaViT(arch, la_key_grid=4, drop_path_rate=0.0).eval()
    assert m.min_input_size == side
    with torch.no_grad():
        outs = m(torch.zeros(1, 3, side, 2 * side))  # the minimum works, also with one side only at it
        assert outs[-1].shape[:2] == (1, 512)
        with pytest.raises(ValueError, match=rf"input \({side - 1}, {2 * side}\) is under the minimum "
                                             rf"input side of {side} px .*arch='tiny-lowsr' \(4, 2, 1, 1\) "
                                             'takes 13'):
            m(torch.zeros(1, 3, side - 1, 2 * side))
        # the minimum is tight: without the check, one pixel less dies inside a spatial-reduction conv
        m.min_input_size = 1
        with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
            m(torch.zeros(1, 3, side - 1, 2 * side))


def test_lavit_img_size_under_the_minimum_fails_at_build_time():
    with pytest.raises(ValueError, match=r'img_size \(16, 16\) is under the minimum input side of 29 px for '
                                         r'sr_ratios \(8, 4, 2, 1\)'):
        LaViT('tiny', img_size=16, la_transform='full')
    LaViT('tiny-lowsr', img_size=16)  # 13 px suffice there


@pytest.mark.parametrize('cls', [Conv4, ResNet12])
def test_fewshot_backbones_minimum_side(cls):
    m = Conv4(channels=4) if cls is Conv4 else ResNet12(channels=(4, 4, 4, 4))
    assert m(torch.zeros(2, 3, 16, 16)).shape[0] == 2
    with pytest.raises(ValueError, match=r'input \(15, 16\) is under 16 px a side'):
        m(torch.zeros(2, 3, 15, 16))


def _episode(ways, size):
    x = torch.zeros(ways * 2, 3, size, size)
    y = torch.arange(ways).repeat(2)
    return dict(support_img=[x], support_label=[y], query_img=[x], query_label=[y])


def test_maml_img_size_and_num_ways_name_the_setting():
    m = MAML(backbone=dict(type='Conv4', channels=4), num_ways=3, img_size=32).train()
    with pytest.raises(ValueError, match=r'the head takes 16 \(it was sized for model.img_size=32\): set '
                                         'model.img_size'):
        m(_episode(3, 48), mode='loss')
    with pytest.raises(ValueError, match='the episodes have 5 ways, the model was built for '
                                         'model.num_ways=3'):
        m(_episode(5, 32), mode='loss')
    assert torch.isfinite(m(_episode(3, 32), mode='loss')['loss'])
    with pytest.raises(ValueError, match='under 16 px'):  # a too small img_size fails at build time
        MAML(backbone=dict(type='Conv4', channels=4), num_ways=3, img_size=8)


def test_episodic_dataset_names_the_setting(tmp_path):
    from PIL import Image
    for c in range(3):
        (tmp_path / f'c{c}').mkdir()
        for i in range(3):
            Image.new('RGB', (8, 8), (c * 40, 0, 0)).save(tmp_path / f'c{c}' / f'{i}.png')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        with pytest.raises(ValueError, match=r"set num_ways \(the dataset's and model.num_ways\) to at "
                                             'most 3'):
            EpisodicDataset(num_ways=5, num_shots=1, num_queries=1, data_root=str(tmp_path))
        with pytest.raises(ValueError, match='need 4 images per class.*lower num_shots / num_queries'):
            EpisodicDataset(num_ways=3, num_shots=2, num_queries=2, data_root=str(tmp_path))


def _cls(arch, num_classes):
    return dict(type='ImageClassifier', backbone=dict(type='CifarResNet', arch=arch),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=num_classes, in_channels=64,
                          loss=dict(type='CrossEntropyLoss')),
                data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=num_classes))


def _distiller(teacher_classes=10, losses=None, **kw):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return SingleTeacherDistiller(
            student=_cls('resnet8', 10),
            teacher=dict(model=_cls('resnet14', teacher_classes), scope='mmpretrain'),
            recorders=dict(logits=dict(type='ModuleOutputs', source='head.fc'),
                           feat=dict(type='ModuleOutputs', source='backbone')),
            losses=losses or dict(loss_kd=dict(type='KDLoss')), allow_random_teacher=True, **kw)


def _batch(n=4):
    from mmpretrain.structures import DataSample
    return torch.randn(n, 3, 16, 16), [DataSample().set_gt_label(i % 10) for i in range(n)]


def test_distiller_logits_of_different_classes_name_num_classes():
    d = _distiller(teacher_classes=100)
    with pytest.raises(ValueError, match=r"model.losses.loss_kd \(student <- 'logits', teacher <- "
                                         r"'logits'\): the student's logits have 10 classes, the "
                                         "teacher's 100"):
        d.loss(*_batch())
    assert torch.isfinite(_distiller().loss(*_batch())['distill.loss_kd'])


def test_distiller_trg_dims_name_student_and_teacher_dim():
    trg = dict(type='TRGLoss', student_dim=32, teacher_dim=64, num_tokens=4)
    d = _distiller(losses=dict(loss_trg=trg),
                   loss_inputs=dict(loss_trg=dict(student=dict(recorder='feat', item=-1),
                                                  teacher=dict(recorder='feat', item=-1))))
    with pytest.raises(ValueError, match=r'student_dim=32, teacher_dim=64, but the recorded student features '
                                         r"have 64 channels and the teacher's 64: set "
                                         r'model.losses.loss_trg.student_dim=64 and teacher_dim=64'):
        d.loss(*_batch())
    assert isinstance(d.distill_losses['loss_trg'].projector, nn.Linear)
