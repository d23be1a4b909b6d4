# Copyright (c) mmlavit contributors.
"""Training-step cost of distillation (student alone, KD, DKD, CLKD, TRG) in interleaved rounds:
:mod:`mmlavit.analysis.bench_distill` (``--help`` for the options).

    python tools/analysis_tools/benchmark_distill.py              # CIFAR resnet32x4 -> resnet8x4, batch 64
    python tools/analysis_tools/benchmark_distill.py --teacher resnet56 --student resnet20 --batch 128
"""
import sys

from mmlavit.analysis.bench_distill import main

if __name__ == '__main__':
    sys.exit(main())
