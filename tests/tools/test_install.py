"""What a user's install gives, in a fresh venv whose ``.pth`` adds a folder of links to this interpreter's
site-packages (everything but mmlavit: nothing is downloaded or copied), one venv for the whole module:

1. an editable install of a copy of the working tree changes no installed version; its
   ``mmlavit-startup.pth`` registers the ``mmlavit::`` prefix lazily, so a user config with an ``mmlavit::``
   base trains for two iterations through mmpretrain's, mmdet's and mmseg's own ``tools/train.py`` and through
   ``mim train``, although those tools parse the config before ``custom_imports`` imports mmlavit;
   ``mim train`` / ``mim test`` find our configs by name in the source package;
2. ``pip uninstall`` leaves nothing of ours;
3. a built wheel installs with ``--no-deps`` without changing any installed version; ``mim search`` works
   from it, and ``mim train`` and ``mim test`` run the wheel's tools on a shipped distillation config whose
   teacher config resolves inside the installed package; installed with ``--target``, the wheel lists every
   file it installed in its RECORD.

The tests of a step build on the state the previous step left (pytest keeps the file order)."""
import glob
import importlib
import os
import os.path as osp
import subprocess

import pytest

# What a user writes: one of our configs as the base, through the `mmlavit::` prefix; plus the test's tiny
# data (two iterations, no evaluation, every iteration logged).
USER = {
    'mmpretrain': """
_base_ = 'mmlavit::lavit/lavit-t_synth-cls.py'
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root='DATA_ROOT', indices=4))
train_cfg = dict(max_epochs=1)
""",
    'mmdet': """
_base_ = 'mmlavit::lavit/mask-rcnn_lavit-t_fpn_synth-coco.py'
model = dict(backbone=dict(init_cfg=None))  # the classifier checkpoint of `make demo` is not needed here
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root='DATA_ROOT', indices=4))
train_cfg = dict(max_epochs=1)
""",
    'mmseg': """
_base_ = 'mmlavit::lavit/fpn_lavit-t_synth-ade20k.py'
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root='DATA_ROOT', indices=4))
train_cfg = dict(max_iters=2, val_interval=100)
""",
}
NO_EVAL = """
val_dataloader = val_cfg = val_evaluator = test_dataloader = test_cfg = test_evaluator = None
default_hooks = dict(logger=dict(interval=1))
"""
# one line per iteration in the log: 'Epoch(train) [1][2/2]' (epoch loops) or 'Iter(train) [2/2]'
LAST_ITER = {'mmpretrain': '[1][2/2]', 'mmdet': '[1][2/2]', 'mmseg': 'Iter(train) [2/2]'}


def _run(cmd, cwd, timeout=600, stdout_only=False):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1', PIP_DISABLE_PIP_VERSION_CHECK='1')
    env.pop('PYTHONPATH', None)
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert res.returncode == 0, ' '.join(map(str, cmd)) + '\n' + res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout if stdout_only else res.stdout + res.stderr


def _site_listing(site):
    """Every path below ``site`` that is not the links to the stack (relative, sorted)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(site):
        for name in dirnames + filenames:
            out.append(osp.relpath(osp.join(dirpath, name), site))
    return sorted(out)


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


@pytest.fixture(scope='module')
def venv(tmp_path_factory, stack_venv_maker):
    """A venv that sees this environment's packages (not mmlavit) through links, and a copy of the tree."""
    return stack_venv_maker(tmp_path_factory.mktemp('pkgbase'))


def _mim_test(env, config, checkpoint, work_dir, opts, run_dir):
    out = _run([env['py'], '-m', 'mim', 'test', 'mmlavit', config, '--checkpoint', checkpoint,
                '--work-dir', work_dir, '--cfg-options', *opts], cwd=run_dir)
    assert 'accuracy/top1' in out and 'Testing finished successfully' in out
    return out


# what the LaViT-T classifier config needs for `mim test` on the 4-class data, besides the data roots
LAVIT_TEST = ['test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
              'model.head.num_classes=4', 'data_preprocessor.num_classes=4']


@pytest.fixture(scope='module')
def editable(venv):
    """The editable install, as tools/install_env.sh does it (no link added by hand); no installed version
    changes."""
    py, tmp = venv['py'], venv['tmp']
    before, frozen = _site_listing(venv['site']), _freeze(py, tmp)
    _run([py, '-m', 'pip', 'install', '-q', '--no-deps', '--no-build-isolation', '-e', venv['src']], cwd=tmp)
    assert _freeze(py, tmp) == frozen
    yield dict(venv, before=before)


def test_editable_install_registers_lazily(venv, editable):
    py, tmp, site = venv['py'], venv['tmp'], venv['site']
    assert osp.isfile(osp.join(site, 'mmlavit-startup.pth'))
    assert not osp.lexists(osp.join(site, 'mmlavit'))  # mim needs no link any more
    # start-up imports neither torch nor mmengine; the prefix is known once mmengine's config is imported,
    # before (and without) importing mmlavit
    out = _run([py, '-c', 'import sys; print(sorted(m for m in ("torch", "mmengine", "mmlavit") if m in '
                'sys.modules)); import mmengine.config.utils as u; print("mmlavit" in u.MODULE2PACKAGE, '
                '"mmlavit" in sys.modules)'], cwd=tmp, stdout_only=True)
    assert out.split() == ['[]', 'True', 'False'], out
    # mmengine's and mim's package look-ups answer the source package, which holds .mim/
    pkg = osp.join(venv['src'], 'mmlavit')
    out = _run([py, '-c', 'from mmengine.utils import get_installed_path as a; '
                'from mim.utils import get_installed_path as b; print(a("mmlavit")); print(b("mmlavit"))'],
               cwd=tmp, stdout_only=True)
    assert out.split() == [pkg, pkg], out


def _user_config(scope, root, tmp):
    p = tmp / f'user_{scope}.py'
    p.write_text(USER[scope].replace('DATA_ROOT', root) + NO_EVAL)
    return str(p)


def _upstream_train(scope):
    return osp.join(osp.dirname(importlib.import_module(scope).__file__), '.mim', 'tools', 'train.py')


# mmpretrain's tools/train.py runs this config through `mim train mmpretrain` below (mim starts that script)
@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_mmlavit_base_through_the_upstream_train_py(scope, editable, coco_root, ade_root, tmp_path):
    root = dict(mmdet=coco_root, mmseg=ade_root)[scope]
    cfg = _user_config(scope, root, tmp_path)
    wd = str(tmp_path / 'wd')
    out = _run([editable['py'], _upstream_train(scope), cfg, '--work-dir', wd], cwd=tmp_path)
    assert LAST_ITER[scope] in out, out[-3000:]
    assert glob.glob(str(tmp_path / 'wd' / '*.pth')), f'no checkpoint in {tmp_path}'


def test_mmlavit_base_through_mim_train(editable, cls_root, tmp_path):
    """``mim train mmpretrain`` runs mmpretrain's own tools/train.py on the user's config."""
    cfg = _user_config('mmpretrain', cls_root, tmp_path)
    out = _run([editable['py'], '-m', 'mim', 'train', 'mmpretrain', cfg, '--work-dir', str(tmp_path / 'wd')],
               cwd=tmp_path)
    assert osp.join('mmpretrain', '.mim', 'tools', 'train.py') in out  # the command mim prints
    assert LAST_ITER['mmpretrain'] in out and 'Training finished successfully' in out, out[-3000:]
    assert glob.glob(str(tmp_path / 'wd' / '*.pth')), f'no checkpoint in {tmp_path}'


def test_editable_install_then_mim_train(editable, cls_root):
    # no link site-packages/mmlavit: mmlavit-startup.pth points mim's package look-up at the source package
    assert not osp.lexists(osp.join(editable['site'], 'mmlavit'))
    wd = str(editable['tmp'] / 'editable_wd')
    out, opts, run_dir = _mim_train(editable, cls_root, wd)
    assert osp.join(editable['src'], 'configs', 'lavit', 'lavit-t_synth-cls.py') in out
    _mim_test(editable, 'lavit-t_synth-cls.py', osp.join(wd, 'epoch_1.pth'),
              str(editable['tmp'] / 'editable_test'), opts + LAVIT_TEST, run_dir)


def test_uninstall_leaves_nothing_of_ours(venv, editable):
    """The last test of the editable install: uninstalls it."""
    py, tmp, site = venv['py'], venv['tmp'], venv['site']
    assert _site_listing(site) != editable['before']
    _run([py, '-m', 'pip', 'uninstall', '-y', '-q', 'mmlavit'], cwd=tmp)
    left = sorted(set(_site_listing(site)) - set(editable['before']))
    assert left == [] or all('__pycache__' in p and 'mmlavit' not in p for p in left), left
    out = _run([py, '-c', 'import mmengine.config.utils as u; print("mmlavit" in u.MODULE2PACKAGE)'], cwd=tmp,
               stdout_only=True)
    assert out.split() == ['False']


@pytest.fixture(scope='module')
def wheel(venv):
    """The wheel, built from the copy of the tree."""
    py, tmp = venv['py'], venv['tmp']
    _run([py, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation', '-w', str(tmp / 'dist'),
          venv['src']], cwd=tmp)
    return glob.glob(str(tmp / 'dist' / 'mmlavit-*.whl'))[0]


def test_wheel_into_existing_env_then_mim(venv, wheel, cls_root, random_weights):
    """After the editable install's uninstall: the wheel, as a user installs it into their environment."""
    py, tmp = venv['py'], venv['tmp']
    assert not glob.glob(osp.join(venv['site'], 'mmlavit*')), 'the editable install is still there'
    before = _freeze(py, tmp)
    _run([py, '-m', 'pip', 'install', '-q', '--no-deps', wheel], cwd=tmp)
    assert _freeze(py, tmp) == before  # no installed version changed
    assert osp.isfile(osp.join(venv['site'], 'mmlavit', '.mim', 'configs', 'lavit', 'metafile.yml'))
    assert osp.islink(osp.join(venv['src'], 'mmlavit', '.mim', 'configs'))  # the build restored the links

    out = _run([py, '-m', 'mim', 'search', 'mmlavit', '--field', 'config'], cwd=tmp)
    assert 'configs/lavit/lavit-t_synth-cls.py' in out and 'configs/fewshot/gp-maml_conv4' in out

    # a shipped distillation config through `mim train` and `mim test`, which run the wheel's own tools: mim
    # finds the config in the installed package, and so does the distiller its teacher's config
    ckpt = random_weights(osp.join(venv['src'], 'configs/distill/baselines/resnet32_synth-cls100.py'),
                          tmp / 'teacher.pth')
    opts = [f'model.teacher.checkpoint={ckpt}'] + [
        f'{s}_dataloader.{k}' for s in ('train', 'val', 'test')
        for k in (f'dataset.data_root={cls_root}', 'num_workers=0', 'persistent_workers=False')]
    run_dir = tmp / 'run'  # no configs/ folder here: mim must find the config in the package
    run_dir.mkdir(exist_ok=True)
    kd, wd = 'kd_resnet32-resnet8_synth-cls100.py', tmp / 'kd_wd'
    out = _run([py, '-m', 'mim', 'train', 'mmlavit', kd, '--work-dir', str(wd), '--cfg-options', *opts,
                'train_dataloader.dataset.indices=8', 'train_dataloader.batch_size=8',
                'train_cfg.max_epochs=1', 'train_cfg.val_interval=9', 'default_hooks.logger.interval=1'],
               cwd=run_dir)
    assert 'we find the config file in codebase mmlavit' in out
    assert osp.join(venv['site'], 'mmlavit', '.mim', 'configs', 'distill', 'kd', kd) in out
    assert osp.join(venv['site'], 'mmlavit', '.mim', 'tools', 'train.py') in out
    assert 'distill.loss_kd' in out and 'Training finished successfully' in out
    out = _mim_test(venv, kd, str(wd / 'epoch_1.pth'), str(tmp / 'kd_test'), opts, run_dir)
    assert osp.join(venv['site'], 'mmlavit', '.mim', 'tools', 'test.py') in out
    _run([py, '-m', 'pip', 'uninstall', '-y', '-q', 'mmlavit'], cwd=tmp)


def test_wheel_record_lists_every_installed_file(venv, wheel):
    py, tmp = venv['py'], venv['tmp']
    target = tmp / 'target'
    _run([py, '-m', 'pip', 'install', '-q', '--no-deps', '--target', str(target), wheel], cwd=tmp)
    installed = {osp.relpath(osp.join(d, f), target) for d, _, fs in os.walk(target) for f in fs}
    record = glob.glob(str(target / 'mmlavit-*.dist-info' / 'RECORD'))[0]
    with open(record) as f:
        listed = {line.split(',')[0] for line in f if line.strip()}
    assert {'mmlavit-startup.pth', 'mmlavit_startup.py', 'mmlavit/__init__.py'} <= listed
    assert installed - listed == set()  # pip uninstall removes what RECORD lists: every installed file
