"""Shared fixtures. ``tests/`` is not a package (mmsegmentation's wheel installs a top-level ``tests``);
pytest runs with ``--import-mode=importlib`` (setup.cfg)."""
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(autouse=True)
def _restore_default_scope():
    """Restore mmengine's ``DefaultScope`` instances after each test: ``Runner.from_cfg`` leaves its scope
    current (e.g. ``'mmseg'``), and with ``--dist loadfile`` a later file in the same worker would otherwise
    build its models in that scope ("ImageClassifier is not in the mmseg::model registry")."""
    from mmengine.registry import DefaultScope
    saved = DefaultScope._instance_dict.copy()
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(saved)


@pytest.fixture(scope='session')
def repo_root():
    return ROOT


def run_tool(args, cwd=ROOT, timeout=900, env=None):
    """Run a repository script with this interpreter; returns the CompletedProcess (text)."""
    e = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    e.update(env or {})
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=e)


@pytest.fixture(scope='session')
def tool():
    return run_tool


@pytest.fixture(scope='session')
def coco_root(tmp_path_factory):
    from mmlavit.datasets.synthetic import make_coco
    root = str(tmp_path_factory.mktemp('coco'))
    make_coco(root, num_train=8, num_val=4, seed=1)
    return root


@pytest.fixture(scope='session')
def ade_root(tmp_path_factory):
    from mmlavit.datasets.synthetic import make_ade20k
    root = str(tmp_path_factory.mktemp('ade'))
    make_ade20k(root, num_train=8, num_val=4, seed=1)
    return root


@pytest.fixture(scope='session')
def cls_root(tmp_path_factory):
    from mmlavit.datasets.synthetic import make_imagenet
    root = str(tmp_path_factory.mktemp('cls'))
    make_imagenet(root, num_classes=4, train_per_class=8, val_per_class=4, seed=1)
    return root


def make_stack_venv(tmp):
    """A venv under ``tmp`` that sees this environment's packages, but not mmlavit, through a folder of links
    (nothing is downloaded or copied), and a copy of the working tree to install from (building writes
    mmlavit/.mim and build/ into the tree). Returns ``dict(tmp, py, site, src)``."""
    import shutil
    import sysconfig
    site = sysconfig.get_paths()['purelib']
    stack = tmp / 'stack'
    stack.mkdir()
    for name in os.listdir(site):
        if name.startswith(('mmlavit', '__editable__', '__pycache__')) or name.endswith('.pth'):
            continue
        os.symlink(osp.join(site, name), stack / name)
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(tmp / 'venv')], check=True)
    py = str(tmp / 'venv' / 'bin' / 'python')
    venv_site = subprocess.run([py, '-c', "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip()
    with open(osp.join(venv_site, 'zz_stack.pth'), 'w') as f:
        f.write(str(stack) + '\n')
    src = tmp / 'src'
    skip = ('.git', '.venv', 'work_dirs', 'data', 'build', 'dist', '*.egg-info', '.mim', '__pycache__',
            'outputs')
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(*skip))
    return dict(tmp=tmp, py=py, site=venv_site, src=str(src))


@pytest.fixture(scope='session')
def stack_venv_maker():
    """:func:`make_stack_venv`, for module-scoped fixtures of the packaging tests."""
    return make_stack_venv
