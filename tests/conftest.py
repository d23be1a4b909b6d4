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
    # metafiles read once and its installation checked once), done before any test parses a config without
    # importing mmlavit
    import mmlavit_startup
    mmlavit_startup.format_each_config_once()
    mmlavit_startup.read_package_metafiles_once()
    mmlavit_startup.look_up_packages_once()
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


@pytest.fixture(autouse=True)
def _torch_threads_unchanged():
    """A test leaves torch's intra-op thread count as it found it: a test that raised it would oversubscribe
    the cores for every later test of its worker (and slow the other worker down)."""
    import torch
    threads = torch.get_num_threads()
    yield
    if torch.get_num_threads() != threads:
        left = torch.get_num_threads()
        torch.set_num_threads(threads)
        pytest.fail(f'the test left torch with {left} threads instead of {threads}')


def pytest_collection_finish(session):
    """Leave the objects that exist after collection (the imported torch, mmengine and the three toolboxes,
    most of the process's heap) out of every later garbage collection: mmengine's ``BaseDataset`` calls
    ``gc.collect()`` after loading its annotations, which otherwise walks that whole heap (~0.35 s a dataset
    in a test worker), and so do Python's own full collections. What the tests allocate is collected as
    before."""
    import gc
    gc.collect()
    gc.freeze()


def pytest_collection_modifyitems(config, items):
    """Tests that train or run tools first, so that under ``--dist loadgroup`` (below) the short in-process
    tests fill the end of the run on both workers. A module with a module-scoped fixture moves as a whole and
    keeps its file order (its tests may build on the state the previous ones left)."""
    root = str(config.rootpath)
    heavy = {}
    for item in items:
        path = item.nodeid.split('::')[0]
        unit = path if _has_module_fixture(osp.join(root, path)) else item.nodeid
        heavy[unit] = heavy.get(unit, False) or _runs_subprocesses(item)

    def light(item):
        path = item.nodeid.split('::')[0]
        return not heavy[path if path in heavy else item.nodeid]
    items.sort(key=light)  # stable: file order otherwise


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


_IN_PROCESS = dict(last_end=0)


def run_tool_in_process(args, cwd=ROOT):
    """Run one of this repository's ``tools/*.py`` or ``demo/*.py`` as ``python tools/x.py ARGS`` would,
    inside this process: ``sys.argv`` set, ``__name__ == '__main__'``, stdout, stderr and warnings captured,
    the exit status taken from ``SystemExit`` (an uncaught exception: status 1 and its traceback on stderr).
    Returns a CompletedProcess like :func:`run_tool`. It skips the interpreter start-up (importing torch,
    mmengine and the toolboxes, ~10 s a run on this machine), which every test process has paid already; our
    tools import ``mmlavit`` themselves, so they see what a fresh process sees."""
    import contextlib
    import io
    import runpy
    import time
    import traceback
    import warnings

    # mmengine names a run's logger, visualizer, message hub and log folder after the config and the second
    # its Runner starts: a run whose Runner starts in the second the previous run ended in could share them,
    # so each run starts in a later second than the previous one ended
    while int(time.time()) == _IN_PROCESS['last_end']:
        time.sleep(0.05)
    out, err = io.StringIO(), io.StringIO()

    def show(message, category, filename, lineno, file=None, line=None):
        err.write(warnings.formatwarning(message, category, filename, lineno, line))

    import torch
    from mmengine.utils import ManagerMixin

    # a fresh process has no global instances (visualizers, message hubs, loggers, default scopes): mmdet's
    # configs name their visualizer 'visualizer', so a second run would write into the first run's folder
    managers = {c: c._instance_dict.copy() for c in _subclasses(ManagerMixin)}
    for c in managers:
        c._instance_dict.clear()
    argv, old_cwd, threads, code = sys.argv, os.getcwd(), torch.get_num_threads(), 0
    environ = dict(os.environ)  # tools/train.py and test.py set LOCAL_RANK for their process
    try:
        os.chdir(cwd)
        torch.set_num_threads(1)  # as run_tool's OMP_NUM_THREADS=1: the same sums, bit for bit
        sys.argv = list(args)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter('default')  # as a fresh interpreter: each warning once per place
            warnings.showwarning = show
            try:
                runpy.run_path(args[0], run_name='__main__')
            except SystemExit as e:
                if e.code is None or isinstance(e.code, int):
                    code = e.code or 0
                else:  # sys.exit('message')
                    print(e.code, file=sys.stderr)
                    code = 1
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        _IN_PROCESS['last_end'] = int(time.time())
        sys.argv = argv
        os.chdir(old_cwd)
        for key in set(os.environ) - set(environ):
            del os.environ[key]
        os.environ.update(environ)
        torch.set_num_threads(threads)
        for c, instances in managers.items():  # the test's own, as they were
            c._instance_dict.clear()
            c._instance_dict.update(instances)
    return subprocess.CompletedProcess([sys.executable, *args], code, out.getvalue(), err.getvalue())


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _runs_in_process(args, env):
    """Our own Python tools (``tools/``, ``demo/``), without environment changes, run in this process."""
    script = str(args[0])
    return (env is None and script.endswith('.py') and not osp.isabs(script)
            and script.replace(os.sep, '/').startswith(('tools/', 'demo/')))


def tool_call(args, cwd=ROOT, timeout=900, env=None, process=None):
    """What the ``tool`` fixture calls: ``tools/*.py`` and ``demo/*.py`` in this process
    (:func:`run_tool_in_process`), anything else — and any call with ``env`` or ``process=True``, kept where a
    test is about the process itself (a kill, an exit status, a fresh interpreter's imports) — as a subprocess
    (:func:`run_tool`). ``process=False`` runs any script (an upstream tool too) in this process: for a test
    about what the script does with a config, where what a fresh interpreter adds is tested elsewhere."""
    if process is False or (process is None and _runs_in_process(args, env)):
        assert env is None, 'a run in this process cannot change its environment'
        return run_tool_in_process(args, cwd=cwd)
    return run_tool(args, cwd=cwd, timeout=timeout, env=env)


@pytest.fixture(scope='session')
def tool():
    return tool_call


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


def save_random_weights(config, path):
    """Build the model of ``config`` (a path or ``package::path``, read as a distiller reads its teacher's) in
    the config's own scope, without ``init_weights`` (nothing downloaded), and save its state dict to
    ``path``: random weights, which is what tests of the plumbing need. Returns ``path`` as a str."""
    import torch
    from mmengine.registry import MODELS, DefaultScope

    from mmlavit.models.distillers import load_teacher_config
    cfg = load_teacher_config(str(config))
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    torch.save({'state_dict': model.state_dict()}, path)
    return str(path)


@pytest.fixture(scope='session')
def random_weights():
    """:func:`save_random_weights`."""
    return save_random_weights


@pytest.fixture(scope='session')
def stack_venv_maker():
    """:func:`make_stack_venv`, for module-scoped fixtures of the packaging tests."""
    return make_stack_venv
