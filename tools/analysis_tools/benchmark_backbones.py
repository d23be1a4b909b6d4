# Copyright (c) mmlavit contributors.
"""Backbone speed and memory side by side (LaViT, its twin, timm's and mmdet's PVTv2 and Swin-T), models
interleaved in one process: :mod:`mmlavit.analysis.bench_backbones` (``--help`` for the options).

    python tools/analysis_tools/benchmark_backbones.py --out-dir work_dirs/bench_backbones
    python tools/analysis_tools/benchmark_backbones.py --models LaViT-T 'timm PVTv2-b1' --shapes 224
"""
import sys

from mmlavit.analysis.bench_backbones import main

if __name__ == '__main__':
    sys.exit(main())
