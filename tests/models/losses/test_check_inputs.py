"""The losses' ``check_inputs`` hook: the distiller calls it before each loss with the loss's keyword
arguments; each loss checks what it knows (logit pairs, TRG's projector dims) and names the setting."""
import pytest
import torch
import torch.nn as nn

from mmlavit.models.losses import CLKDLoss, DKDLoss, KDLoss, TRGLoss

KEY = 'model.losses.loss_x'


@pytest.mark.parametrize('loss', [KDLoss(), DKDLoss(), CLKDLoss()])
def test_logit_losses_check_classes_and_rows(loss):
    ok = dict(student=torch.zeros(4, 10), teacher=torch.zeros(4, 10))
    loss.check_inputs(ok, KEY, KEY)  # no error
    with pytest.raises(ValueError, match=r"^model.losses.loss_x \(r\): the student's logits have 10 classes, "
                                         "the teacher's 100.*num_classes"):
        loss.check_inputs(dict(student=torch.zeros(4, 10), teacher=torch.zeros(4, 100)), KEY, KEY + ' (r)')
    with pytest.raises(ValueError, match='the student gives 4 logit rows, the teacher 6: rows must pair up'):
        loss.check_inputs(dict(student=torch.zeros(4, 10), teacher=torch.zeros(6, 10)), KEY, KEY)


def test_trg_checks_its_projector_dims_for_maps_and_tokens():
    loss = TRGLoss(student_dim=32, teacher_dim=64)
    loss.check_inputs(dict(student=torch.zeros(2, 32, 4, 4), teacher=torch.zeros(2, 64, 2, 2)), KEY, KEY)
    loss.check_inputs(dict(student=torch.zeros(2, 16, 32), teacher=torch.zeros(2, 4, 64)), KEY, KEY)
    with pytest.raises(ValueError, match=r'student_dim=32, teacher_dim=64, but the recorded student features '
                                         r"have 64 channels and the teacher's 64: set "
                                         r'model.losses.loss_x.student_dim=64 and teacher_dim=64'):
        loss.check_inputs(dict(student=torch.zeros(2, 64, 4, 4), teacher=torch.zeros(2, 64, 4, 4)), KEY, KEY)
    # flattened patches grow the projector by p², the check still speaks in channels
    flat = TRGLoss(student_dim=8, teacher_dim=16, patch_size=2)
    assert flat.projector.in_features == 32
    flat.check_inputs(dict(student=torch.zeros(2, 8, 4, 4), teacher=torch.zeros(2, 16, 4, 4)), KEY, KEY)
    with pytest.raises(ValueError, match='student_dim=8, teacher_dim=16'):
        flat.check_inputs(dict(student=torch.zeros(2, 32, 4, 4), teacher=torch.zeros(2, 16, 4, 4)), KEY, KEY)


def test_distiller_calls_the_hook_and_accepts_losses_without_one():
    """The distiller calls ``check_inputs`` when a loss has it, with the loss's key and recorders, and runs
    a loss without the method unchecked."""
    from mmengine.registry import DefaultScope

    from mmlavit.models import SingleTeacherDistiller

    seen = []

    class Plain(nn.Module):  # no check_inputs
        def forward(self, student, teacher):
            return (student - teacher.detach()).pow(2).mean()

    class Checked(Plain):
        def check_inputs(self, inputs, key, where):
            seen.append((sorted(inputs), key, where))

    def cls(arch):
        return dict(type='ImageClassifier', backbone=dict(type='CifarResNet', arch=arch),
                    neck=dict(type='GlobalAveragePooling'),
                    head=dict(type='LinearClsHead', num_classes=10, in_channels=64,
                              loss=dict(type='CrossEntropyLoss')),
                    data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=10))

    from mmpretrain.structures import DataSample
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        d = SingleTeacherDistiller(student=cls('resnet8'),
                                   teacher=dict(model=cls('resnet8'), scope='mmpretrain'),
                                   recorders=dict(logits=dict(type='ModuleOutputs', source='head.fc')),
                                   losses=dict(plain=Plain(), checked=Checked()), allow_random_teacher=True)
    losses = d.loss(torch.randn(2, 3, 16, 16), [DataSample().set_gt_label(i) for i in range(2)])
    assert torch.isfinite(losses['distill.plain']) and torch.isfinite(losses['distill.checked'])
    assert seen == [(['student', 'teacher'], 'model.losses.checked',
                     "model.losses.checked (student <- 'logits', teacher <- 'logits')")]
