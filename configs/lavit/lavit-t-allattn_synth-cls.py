# Ablation on the generated class folders: the all-attention twin of the small LaViT-T (every layer Q·Kᵀ).
_base_ = './lavit-t_synth-cls.py'
model = dict(backbone=dict(all_attention=True))
