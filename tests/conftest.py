"""Shared fixtures. ``tests/`` is not a package (mmsegmentation's wheel installs a top-level ``tests``);
pytest runs with ``--import-mode=importlib`` (setup.cfg)."""
import inspect
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def pytest_configure(config):
    """Per-process set-up before any test module imports torch."""
    _share_the_cores()
    # what ``import mmlavit`` does for every process (each config text formatted once, each package's
    # metafiles read once), done before any test parses a config without importing mmlavit
    import mmlavit_startup
    mmlavit_startup.format_each_config_once()
    mmlavit_startup.read_package_metafiles_once()
    _memoize_collect_env()


def _share_the_cores():
    """Each xdist worker gets its share of the cores (``make test``: 2 workers on 2 cores, 1 thread each),
    instead of every worker's torch and OpenMP starting one thread per core and the workers oversubscribing
    them. Subprocesses inherit ``OMP_NUM_THREADS``."""
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '0'))
    if workers:
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
            os.environ[var] = threads
        import torch
        torch.set_num_threads(int(threads))


def _memoize_collect_env():
    """A Runner logs the machine's environment (compilers, CUDA, library versions: subprocesses, ~1 s);
    it does not change within a session, so in-process Runners collect it once per process."""
    import copy

    from mmengine.runner import runner
    if getattr(runner.collect_env, 'memoized', False):
        return
    collect, env = runner.collect_env, []

    def collect_env():
        if not env:
            env.append(collect())
        return copy.deepcopy(env[0])

    collect_env.memoized = True
    runner.collect_env = collect_env


def pytest_collection_modifyitems(config, items):
    """Tests that train or run tools first, so that under ``--dist loadgroup`` (below) the short in-process
    tests fill the end of the run on both workers."""
    items.sort(key=lambda item: not _runs_subprocesses(item))  # stable: file order otherwise


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Work units for ``make test`` (``-n 2 --dist loadgroup``): a module with a module-scoped fixture (a venv
    with an install, a trained run) stays one unit on one worker, in file order; every other test is a unit
    of its own, so the two workers stay busy to the end instead of one of them running the last large file
    alone (``--dist loadfile``). xdist hands out the modules first (most tests first), then the single tests
    in collection order. (xdist's own loadgroup marks work through node-id suffixes that pytest 9 no longer
    reads.)"""
    if config.getvalue('dist') != 'loadgroup':
        return None
    from xdist.scheduler import LoadScopeScheduling
    root = str(config.rootpath)

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            path = nodeid.split('::')[0]
            return path if _has_module_fixture(osp.join(root, path)) else nodeid

    return SharedFixtureScheduling(config, log)


def _has_module_fixture(path):
    if path not in _MODULE_FIXTURES:
        with open(path, encoding='utf-8') as f:
            text = f.read()
        _MODULE_FIXTURES[path] = any(f'scope={q}{s}{q}' in text for q in '\'"'
                                     for s in ('module', 'class', 'package'))
    return _MODULE_FIXTURES[path]


_MODULE_FIXTURES = {}


def _runs_subprocesses(item):
    """Whether a test trains or runs tools (what takes seconds to minutes): it takes the ``tool`` fixture or
    its code starts processes or a Runner."""
    if 'tool' in item.fixturenames:
        return True
    try:
        src = inspect.getsource(item.function)
    except (OSError, TypeError):
        return False
    return any(word in src for word in ('subprocess', '_run(', 'Runner'))


@pytest.fixture(autouse=True)
def _restore_default_scope():
    """Restore mmengine's ``DefaultScope`` instances after each test: ``Runner.from_cfg`` leaves its scope
    current (e.g. ``'mmseg'``), and a later test in the same xdist worker would otherwise
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
