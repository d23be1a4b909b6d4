"""Crash and resume: a SIGKILLed run resumed with --resume equals the uninterrupted one exactly; a truncated
latest checkpoint is refused naming the previous good one; checkpoints carrying code stay refused."""
import json
import os
import os.path as osp
import pickle
import signal

import pytest
import torch

import mmlavit  # noqa: F401  (safe globals for torch.load)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLS = osp.join(ROOT, 'configs', 'lavit', 'lavit-t_synth-cls.py')


def _roots(root):
    return [f'{sp}_dataloader.dataset.data_root={root}' for sp in ('train', 'val', 'test')]


KILL_HOOK = '''import os, signal
from mmengine.hooks import Hook
from mmlavit.registry import register


@register('hook')
class KillAtIterHook(Hook):
    """Test only: SIGKILL this process after training iteration ``at_iter`` (1-based)."""
    def __init__(self, at_iter):
        self.at_iter = at_iter

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.at_iter:
            os.kill(os.getpid(), signal.SIGKILL)
'''


def _opts(root, epochs=3):
    # 32 images / batch 8 = 4 iterations per epoch; two (re-created) workers; drop path draws from torch's RNG
    return ['--cfg-options', *_roots(root),
            'train_dataloader.batch_size=8', 'val_dataloader.batch_size=8', 'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False', 'model.head.num_classes=4',
            'data_preprocessor.num_classes=4',
            'model.backbone.drop_path_rate=0.1', f'train_cfg.max_epochs={epochs}', 'train_cfg.val_interval=1',
            'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1', 'randomness.seed=0',
            'randomness.deterministic=True']


def _val_acc(work_dir):
    recs = []
    for p in sorted(osp.join(work_dir, d, 'vis_data', 'scalars.json') for d in os.listdir(work_dir)):
        if osp.isfile(p):
            recs += [json.loads(line) for line in open(p)]
    return [(r['step'], r['accuracy/top1']) for r in recs if 'accuracy/top1' in r]


def test_sigkill_then_resume_equals_the_uninterrupted_run(tool, cls_root, tmp_path):
    wd_a, wd_b = str(tmp_path / 'a'), str(tmp_path / 'b')
    res = tool(['tools/train.py', CLS, '--work-dir', wd_a, *_opts(cls_root)])
    assert res.returncode == 0, res.stderr[-3000:]

    (tmp_path / 'killhook.py').write_text(KILL_HOOK)
    kill_cfg = tmp_path / 'kill.py'
    kill_cfg.write_text(f"_base_ = '{CLS}'\ncustom_imports = dict(imports=['mmlavit', 'killhook'])\n"
                        "custom_hooks = [dict(type='AuxiliaryLossHook'), dict(type='DivergenceGuardHook'), "
                        "dict(type='RandomStateHook'), dict(type='KillAtIterHook', at_iter=6)]\n")
    env = dict(PYTHONPATH=os.pathsep.join(p for p in (str(tmp_path), os.environ.get('PYTHONPATH')) if p))
    res = tool(['tools/train.py', str(kill_cfg), '--work-dir', wd_b, *_opts(cls_root)], env=env)
    assert res.returncode == -signal.SIGKILL, res.stderr[-3000:]  # killed in epoch 2, iteration 2 of 4
    assert open(osp.join(wd_b, 'last_checkpoint')).read().strip().endswith('epoch_1.pth')

    res = tool(['tools/train.py', CLS, '--work-dir', wd_b, '--resume', *_opts(cls_root)])
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'resumed epoch: 1, iter: 4' in res.stdout + res.stderr

    a = torch.load(osp.join(wd_a, 'epoch_3.pth'), map_location='cpu')
    b = torch.load(osp.join(wd_b, 'epoch_3.pth'), map_location='cpu')
    assert a['meta']['iter'] == b['meta']['iter'] == 12
    assert a['state_dict'].keys() == b['state_dict'].keys()
    assert all(torch.equal(a['state_dict'][k], b['state_dict'][k]) for k in a['state_dict'])  # exactly
    acc_a, acc_b = _val_acc(wd_a), _val_acc(wd_b)
    assert [s for s, _ in acc_a] == [1, 2, 3] and acc_b[-2:] == acc_a[-2:]  # epochs 2 and 3 after resuming


def _tiny_ckpt(path, step):
    torch.save(dict(meta=dict(epoch=step, iter=step * 4), state_dict=dict(w=torch.ones(3))), path)


def test_truncated_latest_checkpoint_is_refused_naming_the_previous_one(tool, cls_root, tmp_path):
    from mmengine.config import Config

    from mmlavit.apis.data_check import CheckpointError, check_resume_checkpoint
    wd = tmp_path / 'wd'
    wd.mkdir()
    for step in (1, 2):
        _tiny_ckpt(wd / f'epoch_{step}.pth', step)
    (wd / 'last_checkpoint').write_text(str(wd / 'epoch_2.pth'))
    cfg = Config(dict(resume=True, load_from=None, work_dir=str(wd)))
    check_resume_checkpoint(cfg)  # both complete: fine
    data = (wd / 'epoch_2.pth').read_bytes()
    (wd / 'epoch_2.pth').write_bytes(data[:len(data) // 2])  # a kill while saving
    with pytest.raises(CheckpointError, match=r'epoch_2.pth \(named by .*last_checkpoint\): the zip archive '
                                              r'is incomplete.*previous good checkpoint is .*epoch_1.pth'):
        check_resume_checkpoint(cfg)
    os.remove(wd / 'epoch_1.pth')  # max_keep_ckpts=1: nothing older is left
    with pytest.raises(CheckpointError, match='No other readable checkpoint is left'):
        check_resume_checkpoint(cfg)

    # through tools/train.py: refused before the Runner starts, exit 2, the message on stderr
    _tiny_ckpt(wd / 'epoch_1.pth', 1)
    res = tool(['tools/train.py', CLS, '--work-dir', str(wd), '--resume',
                '--cfg-options', *_roots(cls_root)])
    assert res.returncode == 2, res.stderr[-3000:]
    assert 'cannot resume from' in res.stderr and f'--resume {wd / "epoch_1.pth"}' in res.stderr


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


@pytest.mark.parametrize('entry', ['test', 'resume'])
def test_checkpoint_carrying_code_is_refused(entry, tool, cls_root, tmp_path):
    marker = tmp_path / 'pwned'
    ckpt = tmp_path / 'evil.pth'
    torch.save(dict(meta=dict(epoch=1, iter=4), state_dict={}, payload=_Evil(str(marker))), ckpt,
               pickle_module=pickle)
    data = [f'{sp}_dataloader.dataset.data_root={cls_root}' for sp in ('train', 'val', 'test')]
    if entry == 'test':
        cmd = ['tools/test.py', CLS, str(ckpt), '--work-dir', str(tmp_path / 'wd'), '--cfg-options', *data]
    else:
        cmd = ['tools/train.py', CLS, '--work-dir', str(tmp_path / 'wd'), '--resume', str(ckpt),
               '--cfg-options', *data]
    res = tool(cmd)
    assert res.returncode != 0
    assert 'Weights only load failed' in res.stderr or 'weights_only' in res.stderr, res.stderr[-2000:]
    assert not marker.exists()  # the payload never ran


def _resnet18_ckpt(path):
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        m = MODELS.build(dict(type='ImageClassifier', backbone=dict(type='ResNet', depth=18),
                              neck=dict(type='GlobalAveragePooling'),
                              head=dict(type='LinearClsHead', num_classes=4, in_channels=512)))
    torch.save(dict(meta={}, state_dict=m.state_dict()), path)


def test_load_from_of_another_architecture_is_refused(tool, cls_root, tmp_path):
    ckpt = tmp_path / 'resnet18.pth'
    _resnet18_ckpt(ckpt)
    res = tool(['tools/train.py', CLS, '--work-dir', str(tmp_path / 'wd'), '--cfg-options',
                f'load_from={ckpt}',
                *_roots(cls_root)])
    assert res.returncode == 2, res.stderr[-2000:]
    assert f'{CLS}: load_from = {ckpt} fills only 0% of the' in res.stderr
    for part in ('missing from the checkpoint: backbone.', 'not in the model: backbone.conv1.weight',
                 '--cfg-options load_from=None'):
        assert part in res.stderr


def test_backbone_init_cfg_of_another_architecture_is_refused(tmp_path):
    from mmengine.config import Config

    from mmlavit.apis.data_check import CheckpointMismatchError, check_checkpoint_fits
    ckpt = tmp_path / 'resnet18.pth'
    _resnet18_ckpt(ckpt)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'lavit', 'retinanet_lavit-t_fpn_synth-coco.py'))
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(ckpt), prefix='backbone.')
    with pytest.raises(CheckpointMismatchError, match=rf'<det cfg>: model.backbone.init_cfg = {ckpt} '
                                                      r'\(prefix '
                                                      r'"backbone."\) fills only 0% .*not in the model: '
                                                      r'conv1.weight'):
        check_checkpoint_fits(cfg, '<det cfg>')


def test_load_from_with_missing_and_unexpected_keys_warns_with_the_names(tmp_path, monkeypatch):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS

    from mmlavit.apis import data_check
    cfg = Config.fromfile(CLS)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        sd = MODELS.build(cfg.model).state_dict()
    sd.pop('head.fc.weight')
    sd['extra.scale'] = torch.ones(1)
    sd['head.fc.bias'] = torch.zeros(3)  # another class count
    ckpt = tmp_path / 'student.pth'
    torch.save(dict(meta={}, state_dict=sd), ckpt)
    cfg.load_from = str(ckpt)
    logged = []
    monkeypatch.setattr('mmengine.logging.print_log', lambda msg, **kw: logged.append((msg, kw.get('level'))))
    data_check.check_checkpoint_fits(cfg, '<cls cfg>')
    msg, = [m for m, level in logged if level == 30 and m.startswith('<cls cfg>')]
    assert msg.startswith(f'<cls cfg>: load_from = {ckpt} does not fit the model exactly')
    assert ('other shapes: head.fc.bias (3,) in the checkpoint vs (10,) in the model' in msg
            and 'missing from the checkpoint: head.fc.weight' in msg
            and 'not in the model: extra.scale' in msg)
