# Copyright (c) mmlavit contributors.
"""Meta-learning throughput (MAML, ANIL, BOIL and their GP forms) in interleaved rounds:
:mod:`mmlavit.analysis.bench_fewshot` (``--help`` for the options).

    python tools/analysis_tools/benchmark_fewshot.py --shots 1 --img-size 84
    python tools/analysis_tools/benchmark_fewshot.py --img-size 32 --channels 32     # the small configs' size
"""
import sys

from mmlavit.analysis.bench_fewshot import main

if __name__ == '__main__':
    sys.exit(main())
