"""mmlavit.analysis.timing: interleaved rounds, the summary, saved and peak memory, the machine line."""
import time

import pytest
import torch

from mmlavit.analysis.timing import (best_median, interleaved, keeps_torch_threads, machine, matmul_peak,
                                     peak_memory, release_memory, saved_activation_bytes)


def test_rounds_interleave_the_candidates_after_untimed_warmup(capsys):
    calls = []
    fns = {'a': lambda: calls.append('a'), 'b': lambda: (calls.append('b'), time.sleep(0.01))}
    times = interleaved(fns, warmup=1, repeats=2, log_warmup=True)
    assert calls == ['a', 'b'] * 3  # each round runs every candidate once, in order; 1 warm-up + 2 timed
    assert set(times) == {'a', 'b'} and len(times['a']) == len(times['b']) == 2
    assert all(t >= 0.01 for t in times['b']) and max(times['a']) < min(times['b'])
    out = capsys.readouterr().out
    assert out.count('warm-up') == 2 and 'warm-up b:' in out  # the warm-up calls, not the timed ones


def test_best_and_median():
    assert best_median([3., 1., 2., 10.]) == (1., 2.5)


def test_saved_activation_bytes_counts_each_storage_once_and_no_weights():
    """``exp`` saves its output, which ``a * a`` saves twice more, and the linear layer saves its input and
    its weight: 2 activations of 10×100 fp32 remain once storages count once and weights not at all."""
    lin = torch.nn.Linear(100, 100)
    x = torch.randn(10, 100, requires_grad=True)

    def f():
        a = lin(x).exp()
        return a * a
    assert saved_activation_bytes(f, lin.parameters()) == 2 * 10 * 100 * 4
    assert saved_activation_bytes(f) == 2 * 10 * 100 * 4 + 100 * 100 * 4


def test_peak_memory_on_the_cpu_is_the_rss_growth_while_the_step_runs():
    def step():  # 64 MiB written (so resident), held while the sampler looks, freed before returning
        t = torch.ones(16 * 2 ** 20)
        time.sleep(0.05)
        del t
    release_memory()
    assert peak_memory(step) >= 48 * 2 ** 20
    assert peak_memory(lambda: time.sleep(0.02)) < 16 * 2 ** 20


def test_machine_names_the_cpu_kernels_and_threads():
    line = machine('cpu')
    assert f'({torch.backends.cpu.get_cpu_capability()})' in line
    assert f'{torch.get_num_threads()} threads' in line and f'torch {torch.__version__}' in line


def test_matmul_peak_is_a_throughput():
    assert 1e6 < matmul_peak(n=128, repeats=1) < 1e15


def test_benchmark_mains_leave_the_callers_threads():
    """The benchmarks set torch's thread count for what they measure; called in a process that goes on, they
    give the caller's back, also when they fail."""
    from mmlavit.analysis import bench_backbones, bench_models, bench_onnx

    @keeps_torch_threads
    def main(threads, fail=False):
        torch.set_num_threads(threads)
        if fail:
            raise SystemExit('bad argument')
        return torch.get_num_threads()

    before = torch.get_num_threads()
    assert main(before + 1) == before + 1 and torch.get_num_threads() == before
    with pytest.raises(SystemExit):
        main(before + 2, fail=True)
    assert torch.get_num_threads() == before
    for module in (bench_backbones, bench_models, bench_onnx):
        assert module.main.__wrapped__.__name__ == 'main', module  # the decorated entry point
