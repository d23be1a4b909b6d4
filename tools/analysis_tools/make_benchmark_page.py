# Copyright (c) mmlavit contributors.
"""The benchmark page's generated section (between its markers; hand-written text around it is kept) and the
figures, from the benchmark tools' output files: :mod:`mmlavit.analysis.bench_page` (``--help``).

    python tools/analysis_tools/make_benchmark_page.py     # -> docs/benchmarks/generated.md
    python tools/analysis_tools/make_benchmark_page.py --figures-only \
        --sweep work_dirs/bench_sweep/sweep.json --models-json work_dirs/bench_models/*/benchmark_models.json
"""
import sys

from mmlavit.analysis.bench_page import main

if __name__ == '__main__':
    sys.exit(main())
