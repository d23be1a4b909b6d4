"""mim and packaging: model-index.yml lists every shipped config; a built wheel installs with ``--no-deps``
into an environment that has the stack without changing any installed version; ``mim search``, ``mim train``
and ``mim test`` work from the wheel and from an editable install; ``mim train`` runs a distillation config.

The environment is a fresh venv whose ``.pth`` adds a folder of links to this interpreter's site-packages
(everything but mmlavit), so no package is downloaded or copied."""
import glob
import os
import os.path as osp
import subprocess

import pytest
import yaml

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_model_index_lists_every_config_once():
    with open(osp.join(ROOT, 'model-index.yml')) as f:
        imports = yaml.safe_load(f)['Import']
    listed = []
    for meta in imports:
        assert meta.endswith('metafile.yml') and osp.isfile(osp.join(ROOT, meta)), meta
        with open(osp.join(ROOT, meta)) as f:
            doc = yaml.safe_load(f)
        collections = {c['Name'] for c in doc.get('Collections', [])}
        for model in doc['Models']:
            assert model['In Collection'] in collections, model['Name']
            assert osp.isfile(osp.join(ROOT, model['Config'])), model['Config']
            assert model['Name'] == osp.splitext(osp.basename(model['Config']))[0]
            assert all(res.get('Task') and res.get('Dataset') for res in model.get('Results', []))
            listed.append(model['Config'])
    configs = glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    shipped = sorted(osp.relpath(p, ROOT) for p in configs if '_base_' not in p)
    assert sorted(listed) == shipped  # one metafile entry per shipped config, none missing, none twice


def _run(cmd, cwd, timeout=600, env=None):
    e = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1', PIP_DISABLE_PIP_VERSION_CHECK='1')
    e.pop('PYTHONPATH', None)
    e.update(env or {})
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=e)
    assert res.returncode == 0, ' '.join(map(str, cmd)) + '\n' + res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout + res.stderr


@pytest.fixture(scope='module')
def stack_venv(tmp_path_factory, stack_venv_maker):
    """A venv that sees this environment's packages (not mmlavit) through links; nothing is downloaded."""
    return stack_venv_maker(tmp_path_factory.mktemp('mim'))


def _freeze(py, cwd):
    out = _run([py, '-m', 'pip', 'freeze', '--all'], cwd=cwd)
    return sorted(line for line in out.splitlines()
                  if line and 'mmlavit' not in line and not line.startswith(('#', 'WARNING', '-e ')))


def _mim_train(env, cls_root, work_dir):
    opts = [f'{s}_dataloader.dataset.data_root={cls_root}' for s in ('train', 'val', 'test')]
    opts += [f'{s}_dataloader.{k}' for s in ('train', 'val')
             for k in ('num_workers=0', 'persistent_workers=False')]
    run_dir = env['tmp'] / 'run'  # no configs/ folder here: mim must find the config in the package
    run_dir.mkdir(exist_ok=True)
    out = _run([env['py'], '-m', 'mim', 'train', 'mmlavit', 'lavit-t_synth-cls.py', '--work-dir', work_dir,
                '--cfg-options', *opts, 'train_dataloader.dataset.indices=8', 'train_dataloader.batch_size=8',
                'train_cfg.max_epochs=1', 'model.head.num_classes=4', 'data_preprocessor.num_classes=4'],
               cwd=run_dir)
    assert 'we find the config file in codebase mmlavit' in out and 'Training finished successfully' in out
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    return out, opts, run_dir


def test_wheel_into_existing_env_then_mim(stack_venv, cls_root):
    env = stack_venv
    py, tmp = env['py'], env['tmp']
    _run([py, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation', '-w', str(tmp / 'dist'),
          env['src']], cwd=tmp)
    wheel = glob.glob(str(tmp / 'dist' / 'mmlavit-*.whl'))[0]
    before = _freeze(py, tmp)
    _run([py, '-m', 'pip', 'install', '-q', '--no-deps', wheel], cwd=tmp)
    assert _freeze(py, tmp) == before  # no installed version changed
    assert osp.isfile(osp.join(env['site'], 'mmlavit', '.mim', 'configs', 'lavit', 'metafile.yml'))
    assert osp.islink(osp.join(env['src'], 'mmlavit', '.mim', 'configs'))  # the build restored the links

    out = _run([py, '-m', 'mim', 'search', 'mmlavit', '--field', 'config'], cwd=tmp)
    assert 'configs/lavit/lavit-t_synth-cls.py' in out and 'configs/fewshot/gp-maml_conv4' in out

    wd = str(tmp / 'wheel_wd')
    out, opts, run_dir = _mim_train(env, cls_root, wd)
    assert osp.join(env['site'], 'mmlavit', '.mim', 'tools', 'train.py') in out
    out = _run([py, '-m', 'mim', 'test', 'mmlavit', 'lavit-t_synth-cls.py', '--checkpoint',
                osp.join(wd, 'epoch_1.pth'), '--work-dir', str(tmp / 'wheel_test'), '--cfg-options', *opts,
                'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
                'model.head.num_classes=4', 'data_preprocessor.num_classes=4'], cwd=run_dir)
    assert 'accuracy/top1' in out and 'Testing finished successfully' in out

    # a shipped distillation config through mim: its teacher config resolves inside the installed package
    ckpt = str(tmp / 'teacher.pth')
    _run([py, '-c', TEACHER_CKPT, osp.join(env['src'], 'configs/distill/baselines/resnet32_synth-cls100.py'),
          ckpt], cwd=run_dir)
    loaders = [f'{s}_dataloader.{k}' for s in ('train', 'val', 'test')
               for k in (f'dataset.data_root={cls_root}', 'num_workers=0', 'persistent_workers=False')]
    out = _run([py, '-m', 'mim', 'train', 'mmlavit', 'kd_resnet32-resnet8_synth-cls100.py', '--work-dir',
                str(tmp / 'kd_wd'), '--cfg-options', f'model.teacher.checkpoint={ckpt}', *loaders,
                'train_dataloader.dataset.indices=8', 'train_dataloader.batch_size=8',
                'train_cfg.max_epochs=1', 'train_cfg.val_interval=9', 'default_hooks.logger.interval=1'],
               cwd=run_dir)
    assert 'distill.loss_kd' in out and 'Training finished successfully' in out
    _run([py, '-m', 'pip', 'uninstall', '-y', '-q', 'mmlavit'], cwd=tmp)


# Writes a teacher checkpoint (random weights: the test checks the plumbing) for a config, in its scope.
TEACHER_CKPT = '''
import sys, torch, mmlavit
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
cfg = Config.fromfile(sys.argv[1])
with DefaultScope.overwrite_default_scope(cfg.default_scope):
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()}, sys.argv[2])
'''


def test_editable_install_then_mim_train(stack_venv, cls_root):
    env = stack_venv
    py, tmp = env['py'], env['tmp']
    before = _freeze(py, tmp)
    _run([py, '-m', 'pip', 'install', '-q', '--no-deps', '--no-build-isolation', '-e', env['src']], cwd=tmp)
    assert _freeze(py, tmp) == before
    # no link site-packages/mmlavit: mmlavit-startup.pth points mim's package look-up at the source package
    assert not osp.lexists(osp.join(env['site'], 'mmlavit'))
    wd = str(tmp / 'editable_wd')
    out, opts, run_dir = _mim_train(env, cls_root, wd)
    assert osp.join(env['src'], 'configs', 'lavit', 'lavit-t_synth-cls.py') in out
    out = _run([py, '-m', 'mim', 'test', 'mmlavit', 'lavit-t_synth-cls.py', '--checkpoint',
                osp.join(wd, 'epoch_1.pth'), '--work-dir', str(tmp / 'editable_test'), '--cfg-options', *opts,
                'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
                'model.head.num_classes=4', 'data_preprocessor.num_classes=4'], cwd=run_dir)
    assert 'accuracy/top1' in out and 'Testing finished successfully' in out
