"""tools/analysis_tools/benchmark_models.py: whole models from configs, on its --smoke path (tiny input, one
round); no timing is asserted, only that every measurement is made and reported."""
import importlib
import json
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load():  # tests/conftest.py puts tools/analysis_tools on sys.path, as the scripts see it
    return importlib.import_module('benchmark_models')


def test_stock_config_loses_its_pretrained_init_only():
    mod = _load()
    _, model = mod.load_config('mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py')
    assert model.backbone.type == 'SwinTransformer' and model.backbone.init_cfg is None
    _, model = mod.load_config(osp.join(ROOT, 'configs/lavit/mask-rcnn_lavit-t_fpn_1x_coco.py'),
                               backbone=mod._timm('pvt_v2_b2'), neck_channels=mod.PVT_CHANNELS)
    assert model.backbone.type == 'mmpretrain.TIMMBackbone' and 'arch' not in model.backbone
    assert model.neck.in_channels == mod.PVT_CHANNELS and model.roi_head.type == 'StandardRoIHead'


def test_smoke_path_reports_every_measurement(tmp_path, monkeypatch):
    mod = _load()
    monkeypatch.chdir(ROOT)  # the task tables name our configs relative to the repository
    name = 'RetinaNet LaViT-T'
    assert mod.main(['--smoke', '--tasks', 'retinanet', '--models', name, '--out-dir', str(tmp_path)]) == 0
    res = json.load(open(tmp_path / 'benchmark_models.json'))
    assert [r['model'] for r in res['rows']] == [name] and res['rounds'] == 1
    r = res['rows'][0]
    assert r['shape'] == list(mod.SMOKE_SHAPE)
    assert all(r[k] > 0 for k in ('tensor', 'predict', 'train', 'saved_mb', 'params', 'backbone_params'))
    assert r['rss_mb'] >= 0
    md = open(tmp_path / 'benchmark_models.md').read()
    assert f'| {name} | {mod.SMOKE_SHAPE[0]}×{mod.SMOKE_SHAPE[1]} | 1 |' in md


def test_ratios_are_against_the_fastest_implementation_of_the_peer():
    mod = _load()
    rows = [dict(model='RetinaNet LaViT-T', tensor=1., train=2., saved_mb=10.),
            dict(model='RetinaNet PVTv2-b1 (mmdet)', tensor=3., train=3., saved_mb=20.),
            dict(model='RetinaNet PVTv2-b1 (timm)', tensor=2., train=5., saved_mb=15.)]
    line = next(x for x in mod.ratio_lines(rows) if 'LaViT-T' in x)
    # tensor: timm is the fastest peer (2 / 1); train: mmdet (3 / 2); memory: ours over the smallest peer
    assert '2.00× (timm)' in line and '1.50× (mmdet)' in line and '0.67' in line
