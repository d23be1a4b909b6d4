# Copyright (c) mmlavit contributors.
"""Attention-saturation report: cosine similarity of attention maps between successive layers of each stage,
for LaViT and its all-attention twin (a Markdown table and a PNG plot): :mod:`mmlavit.analysis.attention`.

    python tools/analysis_tools/attention_saturation.py \\
        --model LaViT configs/lavit/lavit-t_synth-cls.py work_dirs/lavit-t_synth-cls/epoch_15.pth \\
        --model twin configs/lavit/lavit-t-allattn_synth-cls.py \\
                     work_dirs/lavit-t-allattn_synth-cls/epoch_15.pth \\
        --num-images 64 --out-dir work_dirs/saturation
"""
import sys

from mmlavit.analysis.attention import saturation_main

if __name__ == '__main__':
    sys.exit(saturation_main())
