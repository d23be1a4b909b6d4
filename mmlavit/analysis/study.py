"""The study runner: train (and test) a list of runs as ``tools/train.py`` / ``tools/test.py`` subprocesses
with a job limit, read back what mmengine logged, and never train twice what finished with the same command
and config.

* **One result format**: what mmengine writes. Training and validation: ``<run>/<time>/vis_data/scalars.json``
  (:func:`read_scalars`); a test: ``<test dir>/<time>/<time>.json``, the metrics dict mmengine's
  ``LoggerHook`` dumps after the test epoch (:func:`read_test`). Each finished step leaves ``run.json`` (its
  command, the SHA-1 of its resolved config, its wall time): a step whose ``run.json`` records the same
  command and digest is read back, not run again (a finished step run again is first moved to
  ``<dir>.superseded-<time>``).
* **One lock**: :func:`flock`, an exclusive ``fcntl.flock`` on a file. Locks taken through separate opens of
  a file exclude each other across processes *and* threads, so it guards each run (``<run>.lock``: a second
  study process on the same runs waits for, then reads back, the run the first is training) and, with
  ``lock=``, a shared machine (one training at a time across jobs and helpers).
* Configs are loaded in the calling thread only (:class:`Study` computes every digest before its workers
  start; mmengine's ``Config.fromfile`` is not thread-safe); workers only start subprocesses.
* ``collect=True`` reads back what finished and never trains.

Configs and tools are found without a source checkout: :data:`ROOT` is the checkout that holds this package,
else ``mmlavit/.mim`` of an installed one; work dirs (and the configs' relative data paths) are relative to
the current directory, as for ``tools/train.py`` itself.
"""
import contextlib
import fcntl
import glob
import hashlib
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence


def _root(pkg: str = osp.dirname(osp.dirname(osp.abspath(__file__)))) -> str:
    """The checkout above the package directory ``pkg`` when it has tools/ and configs/, else ``pkg/.mim``."""
    for root in (osp.dirname(pkg), osp.join(pkg, '.mim')):  # a checkout (or editable install), a wheel
        if osp.isfile(osp.join(root, 'tools', 'train.py')) and osp.isdir(osp.join(root, 'configs')):
            return root
    return osp.join(pkg, '.mim')


#: The folder holding ``tools/`` and ``configs/``: the source checkout, or ``mmlavit/.mim`` when installed.
ROOT = _root()


def repo_path(path: str) -> str:
    """``path`` as given when it exists from the current directory (or is absolute), else under
    :data:`ROOT` (``configs/...``, ``tools/...`` of the checkout or the installed package)."""
    return path if osp.isabs(path) or osp.exists(path) else osp.join(ROOT, path)


def read_scalars(work_dir: str) -> List[dict]:
    """Every record of the run's ``<time>/vis_data/scalars.json`` files (oldest run first)."""
    recs: List[dict] = []
    for p in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        recs += _read_jsonl(p)
    return recs


def _read_jsonl(path: str) -> List[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def read_test(work_dir: str) -> Optional[dict]:
    """The metrics of the newest test in ``work_dir`` (``<time>/<time>.json``, dumped by mmengine's
    ``LoggerHook`` after the test epoch), or None."""
    runs = sorted(p for p in glob.glob(osp.join(work_dir, '*', '*.json'))
                  if osp.basename(p) == osp.basename(osp.dirname(p)) + '.json')
    if not runs:
        return None
    with open(runs[-1]) as f:
        return json.load(f)


def last(recs: Sequence[dict], key: str) -> Optional[float]:
    """The last value of ``key`` in ``recs`` (None when no record has it)."""
    vals = [r[key] for r in recs if key in r]
    return vals[-1] if vals else None


def last_val_metrics(work_dir: str) -> dict:
    """The last validation record of the newest training run in ``work_dir`` (records without ``lr`` or
    ``loss``). Raises when the work dir has no logged run."""
    runs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not runs:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {work_dir}: did training run there?')
    metrics: dict = {}
    for rec in _read_jsonl(runs[-1]):
        if 'lr' not in rec and 'loss' not in rec:
            metrics = rec
    return metrics


@contextlib.contextmanager
def flock(path: Optional[str], blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive flock on the file ``path`` (created if needed) for the duration; yields whether it
    is held (always True when ``blocking``; nothing is locked and True is yielded for ``path=None``)."""
    if not path:
        yield True
        return
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'a') as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def config_digest(config: str) -> Optional[str]:
    """SHA-1 of the config with its ``_base_`` chain resolved (None when it does not load, e.g. a test's
    stand-in), so that an edited config or base is trained again. Loads the config: calling thread only."""
    try:
        with warnings.catch_warnings():  # loading runs custom_imports (deprecation chatter)
            warnings.simplefilter('ignore')
            from mmengine.config import Config
            text = Config.fromfile(repo_path(config)).pretty_text
    except Exception as e:  # noqa: BLE001 — e.g. a test's stand-in: no digest, said
        warnings.warn(f'{config}: not loadable as an mmengine config ({type(e).__name__}: {e}); its runs are '
                      'reused by their command alone, without a digest of the resolved config')
        return None
    return hashlib.sha1(text.encode()).hexdigest()


@dataclass(frozen=True)
class Test:
    """Test a run's checkpoint: ``checkpoint`` is a glob relative to the run's work dir (the last match in
    name order is tested, e.g. ``'epoch_30.pth'`` or ``'best_*.pth'``), into ``work_dir`` with
    ``--cfg-options options``, by ``tool``."""
    checkpoint: str
    work_dir: str
    options: Sequence[str] = ()
    tool: str = 'tools/test.py'


@dataclass(frozen=True)
class Run:
    """One training run: ``tools/train.py config --work-dir work_dir --cfg-options *options
    randomness.seed=seed``, then the optional :class:`Test`. ``needs``: work dirs of runs that must finish
    first (e.g. the teacher's)."""
    config: str
    work_dir: str
    options: Sequence[str] = ()
    seed: Optional[int] = None
    test: Optional[Test] = None
    needs: Sequence[str] = ()
    tool: str = 'tools/train.py'

    def train_command(self) -> List[str]:
        opts = list(self.options) + ([f'randomness.seed={self.seed}'] if self.seed is not None else [])
        cmd = [sys.executable, repo_path(self.tool), repo_path(self.config), '--work-dir', self.work_dir]
        return cmd + (['--cfg-options', *opts] if opts else [])

    def test_command(self) -> List[str]:
        ckpts = sorted(glob.glob(osp.join(self.work_dir, self.test.checkpoint)))
        if not ckpts:
            raise FileNotFoundError(f'{self.work_dir}: no {self.test.checkpoint} checkpoint (did training '
                                    'finish?)')
        cmd = [sys.executable, repo_path(self.test.tool), repo_path(self.config), ckpts[-1], '--work-dir',
               self.test.work_dir]
        return cmd + (['--cfg-options', *self.test.options] if self.test.options else [])


@dataclass
class Result:
    """What a finished run logged: its training/validation ``scalars``, its ``test`` metrics (None without a
    test), its training wall time and its test's."""
    scalars: List[dict]
    test: Optional[dict]
    seconds: Optional[float]
    test_seconds: Optional[float] = None
    extra: dict = field(default_factory=dict)

    def last(self, key: str) -> Optional[float]:
        return last(self.scalars, key)


def _marker(work_dir: str) -> Optional[dict]:
    p = osp.join(work_dir, 'run.json')
    if not osp.isfile(p):
        return None
    with open(p) as f:
        return json.load(f)


def _is_done(work_dir: str, cmd: Sequence[str], digest: Optional[str], after: Optional[str] = None) -> bool:
    done = _marker(work_dir)
    if not done or done.get('args') != list(cmd[1:]) or done.get('config_digest') != digest:
        return False
    return after is None or osp.getmtime(osp.join(work_dir, 'run.json')) >= osp.getmtime(after)


def _step(cmd: List[str], work_dir: str, digest: Optional[str], reuse: bool, env: dict,
          after: Optional[str] = None) -> None:
    """Run ``cmd`` (which writes into ``work_dir``) unless ``reuse`` and it finished with the same command
    and config (and, with ``after``, later than that file); raises with the tail of stderr on failure."""
    if reuse and _is_done(work_dir, cmd, digest, after):
        return
    if _marker(work_dir) is not None:  # a finished step that is not read back: keep it, under another name
        old = work_dir.rstrip('/') + time.strftime('.superseded-%Y%m%d_%H%M%S')
        shutil.move(work_dir, old)
        print(f'{work_dir}: the earlier run (another command or config) is kept in {old}', flush=True)
    t0 = time.time()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)  # in the current directory
    if res.returncode:
        raise RuntimeError(f'{" ".join(cmd[1:])} failed (exit {res.returncode}):\n{res.stderr[-3000:]}')
    with open(osp.join(work_dir, 'run.json'), 'w') as f:
        json.dump(dict(args=cmd[1:], config_digest=digest, seconds=time.time() - t0), f)


def collect(run: Run) -> Optional[Result]:
    """The result of ``run`` when it finished (its ``run.json``; with a test, the test's metrics), else None.
    Never trains."""
    done = _marker(run.work_dir)
    if done is None:
        return None
    test, test_s = None, None
    if run.test is not None:
        test = read_test(run.test.work_dir)
        if test is None:
            return None
        test_s = (_marker(run.test.work_dir) or {}).get('seconds')
    return Result(read_scalars(run.work_dir), test, done.get('seconds'), test_s)


class Study:
    """Runs :class:`Run` s with at most ``jobs`` at once (each subprocess gets ``cpu_count // jobs`` threads
    unless ``OMP_NUM_THREADS`` is set), in the given order, a run after its ``needs``.

    Args:
        jobs (int): runs trained at once. Defaults to 1.
        lock (str, optional): a file to :func:`flock` during each run's training and test only (a machine
            shared with other jobs). Defaults to None.
        reuse (bool): read back a step that finished with the same command and config. Defaults to True.
        collect (bool): train nothing: :meth:`run` returns what finished. Defaults to False.
    """

    def __init__(self, jobs: int = 1, lock: Optional[str] = None, reuse: bool = True, collect: bool = False):
        self.jobs, self.lock, self.reuse, self.collect = max(1, jobs), lock, reuse, collect
        self.failed: Dict[str, str] = {}

    def run(self, runs: Sequence[Run], on_result=None) -> Dict[str, Optional[Result]]:
        """``{work_dir: Result or None}`` for ``runs`` (None: not finished, or failed: see ``failed``);
        ``on_result(run, result)`` is called as each finishes (from the worker thread)."""
        known = set()
        for r in runs:
            missing = [n for n in r.needs if n not in known]
            if missing:
                raise ValueError(f'{r.work_dir} needs {missing}, which are not listed before it')
            known.add(r.work_dir)
        if self.collect:
            return {r.work_dir: collect(r) for r in runs}
        digests = {c: config_digest(c) for c in dict.fromkeys(r.config for r in runs)}  # this thread only
        env = dict(os.environ)
        if self.jobs > 1 and 'OMP_NUM_THREADS' not in env:
            env['OMP_NUM_THREADS'] = str(max(1, (os.cpu_count() or 1) // self.jobs))
        results: Dict[str, Optional[Result]] = {}
        queue, busy_once = deque(runs), set()
        cond = threading.Condition()

        def next_run() -> Optional[Run]:
            with cond:
                while queue:
                    ready = next((r for r in queue if all(n in results for n in r.needs)), None)
                    if ready is not None:
                        queue.remove(ready)
                        return ready
                    cond.wait()
                return None

        def worker():
            while True:
                r = next_run()
                if r is None:
                    return
                try:
                    bad = [n for n in r.needs if results[n] is None]
                    if bad:
                        raise RuntimeError(f'needs {bad}, which did not finish')
                    res = self._execute(r, digests[r.config], env, blocking=r.work_dir in busy_once)
                except Exception as e:  # noqa: BLE001 — report it, go on with the other runs
                    self.failed[r.work_dir] = f'{type(e).__name__}: {e}'
                    print(f'FAILED: {r.work_dir}: {self.failed[r.work_dir]}', flush=True)
                    res = None
                with cond:
                    if res is _BUSY:  # another process trains it: the other runs first, then wait for it
                        busy_once.add(r.work_dir)
                        queue.append(r)
                    else:
                        results[r.work_dir] = res
                    cond.notify_all()
                if res is not _BUSY and res is not None and on_result is not None:
                    on_result(r, res)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(self.jobs, len(runs)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return {r.work_dir: results.get(r.work_dir) for r in runs}

    def _execute(self, r: Run, digest: Optional[str], env: dict, blocking: bool):
        with flock(r.work_dir.rstrip('/') + '.lock', blocking) as held:
            if not held:
                return _BUSY
            train = r.train_command()
            marker = osp.join(r.work_dir, 'run.json')
            trained = self.reuse and _is_done(r.work_dir, train, digest)
            tested = r.test is None or (trained and self.reuse and _is_done(
                r.test.work_dir, r.test_command(), digest, after=marker))
            if not (trained and tested):
                with flock(self.lock):
                    _step(train, r.work_dir, digest, self.reuse, env)
                    if r.test is not None:
                        _step(r.test_command(), r.test.work_dir, digest, self.reuse, env, after=marker)
            return collect(r)


_BUSY = object()


def add_study_args(parser) -> None:
    """The runner's options of every study CLI: ``--jobs``, ``--lock``, ``--collect``, ``--retrain``."""
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs trained at once, each with cpu_count / jobs threads (default: 1)')
    parser.add_argument('--lock', help='hold an flock on this file during each run only (shared machines)')
    parser.add_argument('--collect', action='store_true',
                        help='train nothing: read back the finished runs and write the table')
    parser.add_argument('--retrain', action='store_true',
                        help='train every run again (default: a run that finished before with the same '
                             'command and the same resolved config is read back)')


def study_from_args(args, parser) -> Study:
    """The :class:`Study` of :func:`add_study_args`' options."""
    if args.collect and args.retrain:
        parser.error('--collect reads runs back; it cannot --retrain')
    return Study(args.jobs, args.lock, reuse=not args.retrain, collect=args.collect)
