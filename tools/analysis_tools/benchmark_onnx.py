# Copyright (c) mmlavit contributors.
"""Backbone speed where users deploy (ONNX Runtime, torch.compile, OpenVINO against PyTorch eager), runtimes
and models interleaved in one process: :mod:`mmlavit.analysis.bench_onnx` (``--help`` for the options).

    python tools/analysis_tools/benchmark_onnx.py --shapes 224 --rounds 5 --out-dir work_dirs/bench_onnx
    python tools/analysis_tools/benchmark_onnx.py --shapes 512 800x1344 --compile --rounds 3
"""
import sys

from mmlavit.analysis.bench_onnx import main

if __name__ == '__main__':
    sys.exit(main())
