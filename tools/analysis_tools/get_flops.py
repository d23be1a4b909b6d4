# Copyright (c) mmlavit contributors.
"""Params and FLOPs of the LaViT variants beside the paper's table: :mod:`mmlavit.analysis.flops`
(``--help`` for the options).

    python tools/analysis_tools/get_flops.py                      # every variant + all-attention twins, 224²
    python tools/analysis_tools/get_flops.py --shape 800 1333 --archs tiny
    python tools/analysis_tools/get_flops.py --config configs/lavit/lavit-t_8xb128_in1k.py
"""
import sys

from mmlavit.analysis.flops import main

if __name__ == '__main__':
    sys.exit(main())
