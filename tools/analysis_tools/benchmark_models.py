# Copyright (c) mmlavit contributors.
"""Whole detectors and segmentors (LaViT's configs against the stock PVTv2 and Swin-T configs and the same
models with timm's backbone), interleaved in one process: :mod:`mmlavit.analysis.bench_models` (``--help``).

    python tools/analysis_tools/benchmark_models.py --out-dir work_dirs/bench_models
    python tools/analysis_tools/benchmark_models.py --tasks mask-rcnn --rounds 2 --out-dir work_dirs/bm
    python tools/analysis_tools/benchmark_models.py --smoke   # tiny inputs, one round
"""
import sys

from mmlavit.analysis.bench_models import main

if __name__ == '__main__':
    sys.exit(main())
