"""Run ``tools/train.py`` as a subprocess and read back what its logs measured (for the study scripts under
``tools/analysis_tools/``: ablations, distillation seeds, few-shot comparisons)."""
import glob
import json
import os.path as osp
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

# The folder holding tools/ and configs/: the source checkout, or mmlavit/.mim of an installed package. It is
# only for finding those; work dirs (and the configs' relative data paths) are relative to the current
# working directory, as for tools/train.py itself.
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def repo_path(path: str) -> str:
    """``path`` as given when it exists from the current directory (or is absolute), else under ROOT
    (``configs/...``, ``tools/...`` of the checkout or the installed package)."""
    return path if osp.isabs(path) or osp.exists(path) else osp.join(ROOT, path)


def read_scalars(work_dir: str) -> List[dict]:
    """Every record of the run's ``vis_data/scalars.json`` files (oldest run first)."""
    recs: List[dict] = []
    for p in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        recs += [json.loads(line) for line in open(p)]
    return recs


def last(recs: Sequence[dict], key: str) -> Optional[float]:
    vals = [r[key] for r in recs if key in r]
    return vals[-1] if vals else None


# mmengine's Config.fromfile is not thread-safe (temporary module files, sys.path and sys.modules edits):
# tools that train from several threads (distill_sweep.py --jobs) load configs under this lock
CONFIG_LOCK = threading.RLock()


def config_digest(config: str) -> Optional[str]:
    """SHA-1 of the config with its ``_base_`` chain resolved (None when it does not load, e.g. a test's
    stand-in), so that an edited config or base is trained again."""
    import hashlib
    import warnings
    try:
        with CONFIG_LOCK, warnings.catch_warnings():  # loading runs custom_imports (deprecation chatter)
            warnings.simplefilter('ignore')
            from mmengine.config import Config
            text = Config.fromfile(repo_path(config)).pretty_text
    except Exception:  # noqa: BLE001 — not an mmengine config: no digest
        return None
    return hashlib.sha1(text.encode()).hexdigest()


def train(config: str, work_dir: str, options: Sequence[str] = (), seed: Optional[int] = None,
          tool: str = 'tools/train.py', reuse: bool = False) -> Tuple[List[dict], float]:
    """Train ``config`` into ``work_dir`` (``--cfg-options`` ``options``, ``randomness.seed``); return the
    logged scalars and the wall time. Raises with the tail of stderr when the run fails. A finished run
    leaves ``run.json`` (command, digest of the resolved config, wall time); with ``reuse=True`` a run whose
    ``run.json`` records the same command and config digest is read back instead of trained again; a finished
    run that is trained again is first moved to ``<work_dir>.superseded-<time>`` (its checkpoints and logs
    are kept)."""
    opts = list(options) + ([f'randomness.seed={seed}'] if seed is not None else [])
    cmd = [sys.executable, repo_path(tool), repo_path(config), '--work-dir', work_dir]
    cmd += ['--cfg-options', *opts] if opts else []
    marker = osp.join(work_dir, 'run.json')
    digest = config_digest(config)
    if reuse and osp.isfile(marker):
        with open(marker) as f:
            done = json.load(f)
        if done.get('args') == cmd[1:] and done.get('config_digest') == digest:
            return read_scalars(work_dir), done['seconds']
    if osp.isfile(marker):  # a finished run that is not read back: keep it, under another name
        import shutil
        old = work_dir.rstrip('/') + time.strftime('.superseded-%Y%m%d_%H%M%S')
        shutil.move(work_dir, old)
        print(f'{work_dir}: the earlier run (another command or config) is kept in {old}', flush=True)
    t0 = time.time()
    res = subprocess.run(cmd, capture_output=True, text=True)  # in the current directory
    if res.returncode:
        raise RuntimeError(f'{config} {opts} failed (exit {res.returncode}):\n{res.stderr[-3000:]}')
    seconds = time.time() - t0
    with open(marker, 'w') as f:
        json.dump(dict(args=cmd[1:], config_digest=digest, seconds=seconds), f)
    return read_scalars(work_dir), seconds


def mean_std(xs: Sequence[float]) -> Dict[str, float]:
    import statistics
    return dict(mean=statistics.mean(xs), std=statistics.stdev(xs) if len(xs) > 1 else 0.0)


def write_table(path: str, lines: Sequence[str]) -> str:
    """Write Markdown ``lines`` to ``path`` and print them (the report of every study/benchmark tool)."""
    table = '\n'.join(lines)
    with open(path, 'w') as f:
        f.write(table + '\n')
    print(table)
    return table


def time_runs(fn, warmup: int = 1, repeats: int = 5, device: str = 'cpu') -> List[float]:
    """Wall times of ``repeats`` calls of ``fn`` after ``warmup`` untimed ones (CUDA synchronised)."""
    import torch

    def sync():
        if str(device).startswith('cuda'):
            torch.cuda.synchronize()
    for _ in range(warmup):
        fn()
    sync()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t0)
    return ts


def saved_activation_bytes(fn, exclude=()) -> int:
    """Bytes of the activations autograd keeps for backward while ``fn()`` runs; the result of ``fn`` is
    dropped. Each storage counts once however many ops save it (a softmax output saved by the softmax and
    by the product after it, views of one tensor), and the storages of ``exclude`` (pass the model's
    parameters and buffers: weights, not activations) not at all."""
    import torch
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    seen: Dict[int, int] = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in skip:
            seen[s.data_ptr()] = s.nbytes()
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
        total = sum(seen.values())
    del out
    return total
