"""mmlavit.analysis.bench_models: whole models from configs, on its --smoke path (tiny input, one round);
no timing is asserted, only that every measurement is made and reported."""
import json

import torch

from mmlavit.analysis import bench_models


def test_smoke_path_reports_every_measurement(tmp_path):
    name = 'RetinaNet LaViT-T'
    assert bench_models.main(['--smoke', '--tasks', 'retinanet', '--models', name, '--with-cp', 'ffn',
                              '--threads', '1', '--out-dir', str(tmp_path)]) == 0
    res = json.load(open(tmp_path / 'benchmark_models.json'))
    assert [r['model'] for r in res['rows']] == [name, f'{name} with_cp=ffn'] and res['rounds'] == 1
    r = res['rows'][0]
    assert r['shape'] == list(bench_models.SMOKE_SHAPE) and r['config'].startswith('mmlavit::')
    assert all(r[k] > 0 for k in ('tensor', 'predict', 'train', 'saved_mb', 'params', 'backbone_params'))
    assert r['rss_mb'] >= 0
    # score_thr 0: the random-weight detector returns max_per_img (100) detections, so post-processing costs
    # the same for every model of the table
    assert r['detections'] == 100
    md = open(tmp_path / 'benchmark_models.md').read()
    assert f'| {name} | {bench_models.SMOKE_SHAPE[0]}×{bench_models.SMOKE_SHAPE[1]} | 1 |' in md
    assert md.count(' | 100 | ') == 2


def test_score_threshold_reaches_every_stage():
    """Both the detector's and its heads' test_cfg (RetinaNet's head; Mask R-CNN's rcnn stage) are set."""
    from mmengine.config import ConfigDict

    class Head(torch.nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.test_cfg = cfg

    shared = ConfigDict(rpn=dict(nms_pre=1000), rcnn=dict(score_thr=0.05, max_per_img=100))
    model = torch.nn.Sequential(Head(shared), Head(shared.rcnn), Head(ConfigDict(score_thr=0.05)), Head(None))
    assert bench_models.set_score_thr(model, 0.) == 2
    assert shared.rcnn.score_thr == 0. and model[2].test_cfg.score_thr == 0. and 'score_thr' not in shared.rpn


def test_ratios_are_against_the_fastest_implementation_of_the_peer():
    rows = [dict(model='RetinaNet LaViT-T', tensor=1., train=2., saved_mb=10.),
            dict(model='RetinaNet PVTv2-b1 (mmdet)', tensor=3., train=3., saved_mb=20.),
            dict(model='RetinaNet PVTv2-b1 (timm)', tensor=2., train=5., saved_mb=15.)]
    line = next(x for x in bench_models.ratio_lines(rows) if 'LaViT-T' in x)
    # tensor: timm is the fastest peer (2 / 1); train: mmdet (3 / 2); memory: ours over the smallest peer
    assert '2.00× (timm)' in line and '1.50× (mmdet)' in line and '0.67' in line


def test_backbone_share_bounds_the_speed_up():
    """Ours 2 s of which the backbone 1 s, the peer 3 s: measured 1.5×, 3× with a free backbone."""
    rows = [dict(model='RetinaNet LaViT-T', tensor=2., backbone_fwd=1.),
            dict(model='RetinaNet PVTv2-b1 (mmdet)', tensor=3., backbone_fwd=2.)]
    lines = bench_models.share_lines(rows)
    assert '| RetinaNet LaViT-T | 1.00/2.00 s = 50 % | — |' in lines
    assert '| RetinaNet LaViT-T over RetinaNet PVTv2-b1 | 1.50× / 3.00× | — |' in lines
