"""``_base_ = 'mmlavit::...'`` under the upstream tools, and what the install puts into site-packages.

A fresh venv (its ``.pth`` adds a folder of links to this interpreter's site-packages, everything but
mmlavit, as in test_mim.py: nothing is downloaded) gets an editable install of a copy of the working tree.
Its ``mmlavit-startup.pth`` registers the ``mmlavit::`` prefix lazily, so a user config with an
``mmlavit::`` base trains for two iterations through mmpretrain's, mmdet's and mmseg's own
``tools/train.py`` and through ``mim train``, although those tools parse the config before ``custom_imports``
imports mmlavit. ``pip uninstall`` leaves nothing of ours; a wheel installed with ``--target`` lists every
file it installed in its RECORD."""
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


@pytest.fixture(scope='module')
def venv(tmp_path_factory, stack_venv_maker):
    """A venv that sees this environment's packages (not mmlavit) through links, and a copy of the tree."""
    return stack_venv_maker(tmp_path_factory.mktemp('pkgbase'))


@pytest.fixture(scope='module')
def editable(venv):
    """The editable install, as tools/install_env.sh does it (no link added by hand)."""
    py, tmp = venv['py'], venv['tmp']
    before = _site_listing(venv['site'])
    _run([py, '-m', 'pip', 'install', '-q', '--no-deps', '--no-build-isolation', '-e', venv['src']], cwd=tmp)
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


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet', 'mmseg'])
def test_mmlavit_base_through_the_upstream_train_py(scope, editable, cls_root, coco_root, ade_root,
                                                    tmp_path):
    root = dict(mmpretrain=cls_root, mmdet=coco_root, mmseg=ade_root)[scope]
    cfg = _user_config(scope, root, tmp_path)
    wd = str(tmp_path / 'wd')
    out = _run([editable['py'], _upstream_train(scope), cfg, '--work-dir', wd], cwd=tmp_path)
    assert LAST_ITER[scope] in out, out[-3000:]
    assert glob.glob(str(tmp_path / 'wd' / '*.pth')), f'no checkpoint in {tmp_path}'


def test_mmlavit_base_through_mim_train(editable, cls_root, tmp_path):
    cfg = _user_config('mmpretrain', cls_root, tmp_path)
    out = _run([editable['py'], '-m', 'mim', 'train', 'mmpretrain', cfg, '--work-dir', str(tmp_path / 'wd')],
               cwd=tmp_path)
    assert LAST_ITER['mmpretrain'] in out and 'Training finished successfully' in out, out[-3000:]


def test_uninstall_leaves_nothing_of_ours(venv, editable):
    """Last in this file (pytest keeps the order): uninstalls the editable install of the fixture."""
    py, tmp, site = venv['py'], venv['tmp'], venv['site']
    assert _site_listing(site) != editable['before']
    _run([py, '-m', 'pip', 'uninstall', '-y', '-q', 'mmlavit'], cwd=tmp)
    left = sorted(set(_site_listing(site)) - set(editable['before']))
    assert left == [] or all('__pycache__' in p and 'mmlavit' not in p for p in left), left
    out = _run([py, '-c', 'import mmengine.config.utils as u; print("mmlavit" in u.MODULE2PACKAGE)'], cwd=tmp,
               stdout_only=True)
    assert out.split() == ['False']


def test_wheel_record_lists_every_installed_file(venv):
    py, tmp = venv['py'], venv['tmp']
    _run([py, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation', '-w', str(tmp / 'dist'),
          venv['src']], cwd=tmp)
    wheel = glob.glob(str(tmp / 'dist' / 'mmlavit-*.whl'))[0]
    target = tmp / 'target'
    _run([py, '-m', 'pip', 'install', '-q', '--no-deps', '--target', str(target), wheel], cwd=tmp)
    installed = {osp.relpath(osp.join(d, f), target) for d, _, fs in os.walk(target) for f in fs}
    record = glob.glob(str(target / 'mmlavit-*.dist-info' / 'RECORD'))[0]
    with open(record) as f:
        listed = {line.split(',')[0] for line in f if line.strip()}
    assert {'mmlavit-startup.pth', 'mmlavit_startup.py', 'mmlavit/__init__.py'} <= listed
    assert installed - listed == set()  # pip uninstall removes what RECORD lists: every installed file
