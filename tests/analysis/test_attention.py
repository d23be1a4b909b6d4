"""mmlavit.analysis.attention: every layer's map read back, successive-layer similarity, the saturation
report and the attention overlay, on untrained config models."""
import glob
import os.path as osp

import pytest
import torch

from mmlavit.analysis.attention import (attention_maps, find_lavit, query_attention, saturation_main,
                                        successive_similarity, vis_main)
from mmlavit.analysis.models import build_backbone, build_model

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(ROOT, 'configs', 'lavit', 'lavit-t_synth-cls.py')


def test_successive_similarity_of_hand_made_maps():
    """Equal maps within a stage give cosine 1, orthogonal ones 0; a map after a stage change is skipped;
    a 4-key map after a 16-key map is compared on 4 pooled keys (2×2 bins of the 4×4 grid)."""
    one = torch.zeros(1, 1, 2, 4)
    one[..., 0] = 1
    other = torch.zeros(1, 1, 2, 4)
    other[..., 1] = 1
    fine = torch.zeros(1, 1, 2, 16)
    fine[..., 0] = 1  # key (0, 0) of the 4×4 grid: pooled, the mass is all on coarse key 0
    maps = [one, one.clone(), other, one, fine, one]
    where = [(0, 0, 'va'), (0, 1, 'la'), (0, 2, 'la'), (1, 0, 'va'), (1, 1, 'va'), (1, 2, 'la')]
    rows = successive_similarity(maps, where)
    assert [(r['stage'], r['layer']) for r in rows] == [(0, 1), (0, 2), (1, 1), (1, 2)]
    assert [round(r['cos'], 6) for r in rows] == [1., 0., 1., 1.]


def test_attention_maps_one_per_layer_and_the_query_overlay():
    model = torch.nn.Sequential(build_backbone('LaViT-T'))  # find_lavit looks inside any model
    lavit = find_lavit(model.eval())
    maps, where = attention_maps(model, torch.randn(1, 3, 64, 96))
    assert len(maps) == len(where) == sum(len(s.blocks) for s in lavit.stages)
    assert where[:3] == [(0, 0, 'va'), (0, 1, 'la'), (1, 0, 'va')]  # LaViT-T: 2 layers in stage 1
    assert torch.allclose(maps[0].sum(-1), torch.ones(()))  # softmax rows of the first (VA) layer
    assert not lavit.record_attention and lavit.attention_maps == []  # left as found
    over = query_attention(model, maps, where, 0, (0.5, 0.5), (64, 96))
    assert over.shape == (64, 96) and over.min() >= 0
    with pytest.raises(ValueError, match='no LaViT'):
        find_lavit(torch.nn.Linear(2, 2))


def test_saturation_report_and_attention_vis(cls_root, tmp_path):
    twin = osp.join(ROOT, 'configs', 'lavit', 'lavit-t-allattn_synth-cls.py')
    assert saturation_main(['--model', 'LaViT', CFG, 'none', '--model', 'twin', twin, 'none',
                            '--num-images', '4', '--data-root', cls_root, '--out-dir', str(tmp_path)]) == 0
    table = (tmp_path / 'saturation.md').read_text()
    assert '| LaViT | 2 | 2 | LA |' in table and '| twin | 2 | 2 | VA |' in table
    assert (tmp_path / 'saturation.png').stat().st_size > 1000
    img = sorted(glob.glob(osp.join(cls_root, 'val', '*', '*.png')))[0]
    _, model = build_model(CFG)
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'm.pth')
    out = tmp_path / 'attn.png'
    assert vis_main([CFG, str(tmp_path / 'm.pth'), img, '--layers', '0', '1', '--out', str(out)]) == 0
    assert out.stat().st_size > 1000
