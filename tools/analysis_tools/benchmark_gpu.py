# Copyright (c) mmlavit contributors.
"""The backbone table on a GPU (fp32, AMP, torch.compile, peak memory): :mod:`mmlavit.analysis.bench_gpu`
(``--help`` for the options).

    python tools/analysis_tools/benchmark_gpu.py --out-dir docs/benchmarks/gpu      # on a CUDA machine
    python tools/analysis_tools/benchmark_gpu.py --device cpu --quick --out-dir /tmp/g  # smoke run
"""
import sys

from mmlavit.analysis.bench_gpu import main

if __name__ == '__main__':
    sys.exit(main())
