"""A user's thin distillation config over a stock mmpretrain / mmdet / mmseg config trains, with its
`distill.*` losses in the log, through (a) our tools/train.py, (b) the upstream package's own
.mim/tools/train.py and (c) Runner.from_cfg(cfg).train(). Tiny generated data, 2 iterations; random
teacher weights (these check the plumbing)."""
import importlib
import os.path as osp

import pytest
import torch
from mmengine.config import Config, DictAction

import mmlavit  # noqa: F401

# What a user writes: the stock student config as `_base_`, the distiller as the model.
USER = {
    'mmpretrain': """
_base_ = 'mmpretrain::resnet/resnet18_8xb32_in1k.py'
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student={{_base_.model}},
    teacher=dict(config='mmpretrain::resnet/resnet34_8xb32_in1k.py', checkpoint='TEACHER_CKPT'),
    recorders=dict(logits=dict(type='ModuleOutputs', source='head.fc')),
    losses=dict(loss_kd=dict(type='KDLoss', temperature=1.0, loss_weight=0.5),
                loss_dkd=dict(type='DKDLoss', beta=0.5, temperature=1.0, warmup=0.5)),
    student_loss_weight=0.5)
""",
    'mmdet': """
_base_ = 'mmdet::retinanet/retinanet_r18_fpn_1x_coco.py'
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
cls_logits = dict(recorder='cls', call='all', layout='dense', num_classes=80)
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student={{_base_.model}},
    teacher=dict(config='mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', checkpoint='TEACHER_CKPT'),
    recorders=dict(cls=dict(type='ModuleOutputs', source='bbox_head.retina_cls')),
    losses=dict(loss_kd=dict(type='KDLoss', temperature=2.0)),
    loss_inputs=dict(loss_kd=dict(student=cls_logits, teacher=cls_logits)))
""",
    'mmseg': """
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
pix = dict(recorder='logits', layout='nchw')
model = dict(
    _delete_=True, type='SingleTeacherDistiller', student={{_base_.model}},
    teacher=dict(config='mmseg::sem_fpn/fpn_r101_4xb4-160k_ade20k-512x512.py', checkpoint='TEACHER_CKPT'),
    recorders=dict(logits=dict(type='ModuleOutputs', source='decode_head.conv_seg')),
    losses=dict(loss_kd=dict(type='KDLoss', temperature=1.0)),
    loss_inputs=dict(loss_kd=dict(student=pix, teacher=pix)))
""",
}
# Test-only: tiny generated data, no validation, 2 iterations, every iteration logged.
TINY = {
    'mmpretrain': """
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, dataset=dict(
    _delete_=True, type='CustomDataset', data_root='DATA_ROOT', data_prefix='train', indices=8,
    pipeline=[dict(type='LoadImageFromFile'), dict(type='Resize', scale=(32, 32)), dict(type='PackInputs')]))
train_cfg = dict(max_epochs=1)
""",
    'mmdet': """
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict(
    data_root='DATA_ROOT', indices=4, metainfo=dict(classes=('circle', 'square', 'triangle', 'star')),
    pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
              dict(type='Resize', scale=(64, 48), keep_ratio=True), dict(type='PackDetInputs')]))
train_cfg = dict(max_epochs=1)
""",
    'mmseg': """
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict(
    data_root='DATA_ROOT', indices=4,
    pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', reduce_zero_label=True),
              dict(type='Resize', scale=(64, 64), keep_ratio=False), dict(type='PackSegInputs')]))
train_cfg = dict(max_iters=2, val_interval=100)
""",
}
NO_EVAL = """
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
default_hooks = dict(logger=dict(interval=1))
"""
# The student's ImageNet weights are not downloaded in the test.
OPTIONS = {'mmpretrain': [], 'mmdet': ['model.student.backbone.init_cfg=None'],
           'mmseg': ['model.student.pretrained=None', 'model.student.data_preprocessor.size=(64,64)']}
TEACHER = {'mmpretrain': 'mmpretrain::resnet/resnet34_8xb32_in1k.py',
           'mmdet': 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
           'mmseg': 'mmseg::sem_fpn/fpn_r101_4xb4-160k_ade20k-512x512.py'}
LOSSES = {'mmpretrain': ('distill.loss_kd', 'distill.loss_dkd'), 'mmdet': ('distill.loss_kd',),
          'mmseg': ('distill.loss_kd',)}


@pytest.fixture(scope='module')
def user_configs(tmp_path_factory, cls_root, coco_root, ade_root, random_weights):
    """``{scope: config path}``: the user's config + the test's tiny data, with a random teacher on disk."""
    tmp = tmp_path_factory.mktemp('thin')
    roots = dict(mmpretrain=cls_root, mmdet=coco_root, mmseg=ade_root)
    out = {}
    for scope, text in USER.items():
        ckpt = random_weights(TEACHER[scope], tmp / f'{scope}_teacher.pth')
        p = tmp / f'{scope}_distill.py'
        p.write_text(text.replace('TEACHER_CKPT', str(ckpt)) + TINY[scope].replace('DATA_ROOT', roots[scope])
                     + NO_EVAL)
        out[scope] = str(p)
    return out


def _check_log(text, scope):
    for key in LOSSES[scope]:
        assert key in text, f'{key} not in the log:\n{text[-3000:]}'


def _upstream_train(scope):
    return osp.join(osp.dirname(importlib.import_module(scope).__file__), '.mim', 'tools', 'train.py')


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet', 'mmseg'])
@pytest.mark.parametrize('entry', ['ours', 'upstream'])
def test_thin_distill_config_trains_through_the_tools(scope, entry, user_configs, tool, tmp_path):
    script = 'tools/train.py' if entry == 'ours' else _upstream_train(scope)
    wd = tmp_path / 'wd'
    res = tool([script, user_configs[scope], '--work-dir', str(wd),
                *(['--cfg-options', *OPTIONS[scope]] if OPTIONS[scope] else [])])
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    _check_log(out, scope)
    ck = sorted(wd.glob('*.pth'))
    assert ck, f'no checkpoint in {wd}'
    assert not any(k.startswith('teacher.') for k in torch.load(ck[-1], map_location='cpu')['state_dict'])


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet', 'mmseg'])
def test_thin_distill_config_trains_through_runner_from_cfg(scope, user_configs, tmp_path):
    from mmengine.runner import Runner
    cfg = Config.fromfile(user_configs[scope])
    if OPTIONS[scope]:
        pairs = (o.split('=', 1) for o in OPTIONS[scope])
        cfg.merge_from_dict({k: DictAction._parse_iterable(v) for k, v in pairs})
    cfg.work_dir = str(tmp_path / 'wd')
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = runner.model
    assert type(model).__name__ == 'SingleTeacherDistiller' and not model.teacher.training
    logged = set(runner.message_hub.log_scalars)
    for key in LOSSES[scope]:
        assert f'train/{key}' in logged, sorted(logged)
    assert model.student_recorders.stored() == 0 and model.teacher_recorders.stored() == 0
    if scope == 'mmpretrain':  # the DKD warm-up read its progress from the Runner (iter 1 of 2 at the last)
        assert model.distill_losses['loss_dkd'].progress == pytest.approx(1 / 2)


# The shipped distillation leaves on dense tasks (feature losses, connectors, several levels, CLKD and TRG on
# dense outputs): two iterations on the tiny data, with random teacher weights written to disk (the released
# and the trained teachers are not downloaded). The full-size leaves over stock COCO / ADE20K configs get the
# tiny pipelines above; the small ones keep their own (256x192 / 128-px crops).
SHIPPED = {
    'configs/distill/pkd/pkd_retinanet_r101-r50_fpn_2x_coco.py': ('mmdet', True, ('distill.loss_pkd',)),
    'configs/distill/cwd/cwd_pspnet_r101-r18-d8_4xb4-80k_ade20k-512x512.py': (
        'mmseg', True, ('distill.loss_cwd',)),
    'configs/distill/pkd/pkd_retinanet_lavit-t-r18_fpn_synth-coco.py': (
        'mmdet', False, ('distill.loss_pkd',)),
    'configs/distill/cwd/cwd_fpn_lavit-t-r18_synth-ade20k.py': ('mmseg', False, ('distill.loss_cwd',)),
    'configs/distill/fitnet/fitnet_fpn_lavit-t-r18_synth-ade20k.py': (
        'mmseg', False, ('distill.loss_fitnet',)),
    'configs/distill/clkd/clkd_fpn_lavit-t-r18_synth-ade20k.py': ('mmseg', False, ('distill.loss_clkd',)),
    'configs/distill/clkd/clkd_retinanet_lavit-t-r18_synth-coco.py': ('mmdet', False, ('distill.loss_clkd',)),
    'configs/distill/trg/trg-fpn_retinanet_lavit-t-r18_synth-coco.py': (
        'mmdet', False, ('distill.loss_kd', 'distill.loss_trg_inner', 'distill.loss_trg_local',
                         'distill.loss_trg_global')),
}
SMALL = {'mmdet': """
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root='DATA_ROOT', indices=4))
train_cfg = dict(max_epochs=1)
""", 'mmseg': """
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root='DATA_ROOT', indices=4))
train_cfg = dict(max_iters=2, val_interval=100)
"""}
# the full-size leaves (over stock COCO / ADE20K configs) go through mmdet's / mmseg's own tools/train.py, as
# their users start them; the small leaves through Runner.from_cfg. The upstream tools run the leaves in this
# process: what a fresh interpreter adds (the config, not the tool, imports mmlavit) is what the thin configs'
# runs above and test_install.py's runs check, and test_configs.py checks that every shipped config that uses
# our classes imports mmlavit through custom_imports.
UPSTREAM = ('configs/distill/pkd/pkd_retinanet_r101-r50_fpn_2x_coco.py',
            'configs/distill/cwd/cwd_pspnet_r101-r18-d8_4xb4-80k_ade20k-512x512.py')


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory, random_weights):
    """``teacher_ckpt(teacher config) -> path``: a random teacher checkpoint on disk (no init_weights:
    nothing downloaded), built once per teacher config; the leaves that share a teacher share it."""
    tmp, ckpts = tmp_path_factory.mktemp('teachers'), {}

    def get(config):
        if config not in ckpts:
            ckpts[config] = random_weights(config, tmp / f'teacher{len(ckpts)}.pth')
        return ckpts[config]
    return get


def _shipped_config(leaf, tmp, coco_root, ade_root, teacher_ckpt):
    """The leaf with the tiny data and a random teacher checkpoint: ``(config path, cfg-options)``."""
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    scope, full, _ = SHIPPED[leaf]
    cfg = Config.fromfile(osp.join(root, leaf))
    tcfg = cfg.model.teacher.config
    ckpt = teacher_ckpt(tcfg if '::' in tcfg else osp.join(root, tcfg))
    data = coco_root if scope == 'mmdet' else ade_root
    text = (TINY[scope] if full else SMALL[scope]).replace('DATA_ROOT', data)
    p = tmp / osp.basename(leaf)
    p.write_text(f"_base_ = '{osp.join(root, leaf)}'\n" + text + NO_EVAL)
    opts = [f'model.teacher.checkpoint={ckpt}']
    if full:
        opts += OPTIONS[scope]
    return str(p), opts


@pytest.mark.parametrize('leaf', UPSTREAM)
def test_shipped_dense_leaf_trains_through_the_upstream_tool(leaf, tool, coco_root, ade_root, teacher_ckpt,
                                                             tmp_path):
    scope, _, losses = SHIPPED[leaf]
    path, opts = _shipped_config(leaf, tmp_path, coco_root, ade_root, teacher_ckpt)
    wd = tmp_path / 'wd'
    res = tool([_upstream_train(scope), path, '--work-dir', str(wd), '--cfg-options', *opts], process=False)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    for key in losses:
        assert key in out, f'{key} not in the log:\n{out[-3000:]}'
    assert 'Iter(train) [2/2]' in out or 'Epoch(train) [1][2/2]' in out, out[-3000:]


@pytest.mark.parametrize('leaf', [k for k in SHIPPED if k not in UPSTREAM])
def test_shipped_dense_leaf_trains_through_runner_from_cfg(leaf, coco_root, ade_root, teacher_ckpt, tmp_path):
    from mmengine.runner import Runner
    _, _, losses = SHIPPED[leaf]
    path, opts = _shipped_config(leaf, tmp_path, coco_root, ade_root, teacher_ckpt)
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(dict(o.split('=', 1) for o in opts))
    cfg.work_dir = str(tmp_path / 'wd')
    runner = Runner.from_cfg(cfg)
    runner.train()
    logged = set(runner.message_hub.log_scalars)
    for key in losses:
        assert f'train/{key}' in logged, sorted(logged)
    assert runner.iter == 2
    model = runner.model
    if model.connectors:  # the FitNet adapter is saved in the distiller's checkpoint
        ck = torch.load(sorted((tmp_path / 'wd').glob('*.pth'))[-1], map_location='cpu')['state_dict']
        assert any(k.startswith('connectors.') for k in ck)
