# Copyright (c) mmlavit contributors.
"""Visualise LaViT attention on one image: for a query token (the image centre by default), the attention
over keys of chosen layers (mean over heads), upsampled onto the image, in one PNG:
:mod:`mmlavit.analysis.attention`.

    python tools/analysis_tools/vis_attention.py CONFIG CHECKPOINT IMAGE --layers 0 1 4 5 --out attn.png
"""
import sys

from mmlavit.analysis.attention import vis_main

if __name__ == '__main__':
    sys.exit(vis_main())
