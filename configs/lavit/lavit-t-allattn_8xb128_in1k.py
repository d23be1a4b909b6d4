# Ablation: the all-attention twin of LaViT-T (same sizes, every layer computes Q·Kᵀ).
_base_ = './lavit-t_8xb128_in1k.py'
model = dict(backbone=dict(all_attention=True))
