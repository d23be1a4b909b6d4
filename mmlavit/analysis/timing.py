"""One timing harness for the benchmark tools.

Candidates are timed in interleaved rounds: after the warm-up rounds, every candidate runs once per round, so
background load and allocator state hit all of them alike and a ratio measured in one run is fair. Besides
wall times: the machine they ran on, the matmul peak it reaches, the bytes autograd saves for backward and
the peak memory of a step (CUDA's allocator, or the growth of the process RSS on the CPU).
"""
import ctypes
import functools
import gc
import os
import statistics
import subprocess
import threading
import time
from typing import Callable, Dict, Iterable, List, Tuple

import torch


def keeps_torch_threads(main: Callable) -> Callable:
    """``main`` (a benchmark's entry point, which sets torch's intra-op thread count for what it measures)
    leaves the caller's thread count as it found it, so that calling it in a process that goes on (a test, a
    notebook) does not change the threads of what runs after it."""
    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        threads = torch.get_num_threads()
        try:
            return main(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)
    return wrapper


def sync(device: str) -> None:
    """Wait for the device's queued work (CUDA kernels run asynchronously); a no-op on the CPU."""
    if str(device).startswith('cuda'):
        torch.cuda.synchronize()


def interleaved(fns: Dict[str, Callable], warmup: int = 1, repeats: int = 3, device: str = 'cpu',
                log_warmup: bool = False) -> Dict[str, List[float]]:
    """Wall times (s) of every ``fns[name]()``: ``warmup`` untimed rounds, then ``repeats`` timed rounds, in
    each of which every candidate runs once, in the order given.

    Args:
        fns (dict): Candidate name -> function of no argument (its result is dropped).
        warmup (int): Untimed rounds first (lazy initialisation, compilation, allocator). Defaults to 1.
        repeats (int): Timed rounds. Defaults to 3.
        device (str): The device the candidates run on; CUDA is synchronised around every call.
            Defaults to 'cpu'.
        log_warmup (bool): Print each warm-up call's time (e.g. how long ``torch.compile`` took).
            Defaults to False.

    Returns:
        dict: Candidate name -> ``repeats`` wall times in seconds.
    """
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for r in range(warmup + repeats):
        for k, fn in fns.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            t = time.perf_counter() - t0
            if r >= warmup:
                times[k].append(t)
            elif log_warmup:
                print(f'warm-up {k}: {t:.2f} s', flush=True)
    return times


def best_median(times: Iterable[float]) -> Tuple[float, float]:
    """(best, median) of wall times: the best is the least disturbed run, the median shows the spread."""
    times = list(times)
    return min(times), statistics.median(times)


def matmul_peak(device: str = 'cpu', n: int = 2048, repeats: int = 5) -> float:
    """fp32 matmul throughput of this machine (FLOP/s, ``2·n³`` per product), best of ``repeats``."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = min(interleaved({'mm': lambda: a @ b}, 1, repeats, device)['mm'])
    return 2 * n ** 3 / best


def release_memory(device: str = 'cpu') -> None:
    """Drop garbage and hand freed memory back (heap pages to the OS, CUDA's cache to the driver) between
    measurements, so that one candidate's leftovers do not slow or bloat the next."""
    gc.collect()
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
    if str(device).startswith('cuda'):
        torch.cuda.empty_cache()


def cpu_name() -> str:
    """The CPU's model name as ``lscpu`` reports it (``/proc/cpuinfo`` or the platform where it cannot)."""
    try:
        out = subprocess.run(['lscpu'], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith('Model name:'):
                return line.split(':', 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with open('/proc/cpuinfo') as f:
            return next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        import platform
        return platform.processor() or platform.machine()


def machine(device: str = 'cpu') -> str:
    """One line naming what a measurement ran on: CPU model and the kernels torch picks for it (its CPU
    capability, e.g. AVX2 or AVX512), cores, torch version and intra-op threads, and the GPU if any."""
    desc = (f'{cpu_name()} ({torch.backends.cpu.get_cpu_capability()}), {os.cpu_count()} cores, '
            f'torch {torch.__version__}, {torch.get_num_threads()} threads')
    if str(device).startswith('cuda'):
        desc += f', {torch.cuda.get_device_name()}'
    return desc


def saved_activation_bytes(fn: Callable, exclude: Iterable[torch.Tensor] = ()) -> int:
    """Bytes of the activations autograd keeps for backward while ``fn()`` runs; the result of ``fn`` is
    dropped. Each storage counts once however many ops save it (a softmax output saved by the softmax and
    by the product after it, views of one tensor), and the storages of ``exclude`` (pass the model's
    parameters and buffers: weights, not activations) not at all."""
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


def _rss() -> int:
    with open('/proc/self/statm') as fh:
        return int(fh.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def rss_growth(fn: Callable, interval: float = 0.002) -> int:
    """Peak growth of the process RSS (bytes) while ``fn()`` runs, sampled every ``interval`` seconds."""
    release_memory()
    base, peak, done = _rss(), [0], threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(interval)
    t = threading.Thread(target=watch, daemon=True)
    t.start()
    try:
        fn()
    finally:
        done.set()
        t.join()
    return max(peak[0], _rss()) - base


def peak_memory(fn: Callable, device: str = 'cpu') -> int:
    """Peak memory (bytes) of one ``fn()``: CUDA's peak allocation on a GPU, the RSS growth on the CPU."""
    if str(device).startswith('cuda'):
        sync(device)
        torch.cuda.reset_peak_memory_stats()
        fn()
        sync(device)
        return torch.cuda.max_memory_allocated()
    return rss_growth(fn)
