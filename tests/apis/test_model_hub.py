"""Our configs by name in the stock APIs (:mod:`mmlavit.apis.model_hub`): mmpretrain's ``get_model`` /
``list_models`` / ``init_model`` / ``ImageClassificationInferencer``, mmdet's ``DetInferencer`` and mmseg's
``MMSegInferencer`` — by name, as ``mmlavit::`` names and by path, with an initialised checkpoint in tmp."""
import glob
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch

import mmlavit  # noqa: F401  (registers the model index)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLS = 'lavit-t_synth-cls'
DET = 'mask-rcnn_lavit-t_fpn_synth-coco'
SEG = 'fpn_lavit-t_synth-ade20k'


def _save(model, path, classes, **meta):
    """An initialised checkpoint as tools/train.py writes it (state dict + dataset_meta)."""
    torch.manual_seed(0)
    if hasattr(model, 'init_weights'):
        model.init_weights()
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(classes=classes, **meta))),
               path)
    return str(path)


@pytest.fixture(scope='module')
def image(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('img') / 'shapes.png')
    img = np.full((192, 256, 3), 40, np.uint8)
    img[40:120, 60:150] = (200, 60, 60)
    mmcv.imwrite(img, path)
    return path


def _config_model(name):
    from mmpretrain import get_model
    m = get_model(name)
    if hasattr(m, 'backbone') and getattr(m.backbone, 'init_cfg', None):
        m.backbone.init_cfg = None  # a from-scratch initialisation: no pretrained file is read
    return m


@pytest.fixture(scope='module')
def det_ckpt(tmp_path_factory):
    """An initialised checkpoint of the DET entry, shared by the inferencer forms and the demo."""
    return _save(_config_model(DET), tmp_path_factory.mktemp('det') / 'det.pth',
                 ('circle', 'square', 'triangle', 'star'))


@pytest.fixture(scope='module')
def seg_ckpt(tmp_path_factory):
    """An initialised checkpoint of the SEG entry (classes and palette in its meta), shared by both forms."""
    model = _config_model(SEG)
    classes = tuple(f'c{i}' for i in range(model.decode_head.num_classes))
    palette = [[(37 * i) % 256, (91 * i) % 256, (53 * i) % 256] for i in range(len(classes))]
    return _save(model, tmp_path_factory.mktemp('seg') / 'seg.pth', classes, palette=palette)


def test_list_models_lists_ours_with_tasks():
    from mmpretrain import list_models
    from mmpretrain.apis import ImageClassificationInferencer
    ours = list_models('*lavit*')
    assert {CLS, DET, SEG, 'lavit-t_8xb128_in1k', 'trg_retinanet_lavit-t-r18_synth-coco'} <= set(ours)
    gp = {'gp-maml_conv4_synth-fewshot-5way-1shot', 'gp-maml_conv4_synth-fewshot-5way-5shot'}
    assert set(list_models('gp-maml_conv4_synth*')) == gp
    cls_only = ImageClassificationInferencer.list_models('*lavit*')  # task 'Image Classification'
    assert CLS in cls_only and DET not in cls_only and SEG not in cls_only
    assert 'resnet50_8xb32_in1k' in list_models('resnet50_8xb32_in1k')  # mmpretrain's own still there


def test_get_model_builds_each_kind_by_name():
    from mmpretrain import get_model
    from mmpretrain.apis.model import ModelHub
    assert type(get_model(CLS)).__name__ == 'ImageClassifier'
    assert type(get_model('mmlavit::' + CLS)).__name__ == 'ImageClassifier'
    assert type(get_model('maml_conv4_synth-fewshot-5way-1shot')).__name__ == 'MAML'
    assert type(get_model('gp-maml_conv4_synth-fewshot-5way-1shot')).__name__ == 'GPMAML'
    # detection / segmentation entries build in their own scope (get_model builds in mmpretrain's)
    assert type(get_model(DET)).__name__ == 'MaskRCNN'
    assert type(get_model(SEG)).__name__ == 'EncoderDecoder'
    meta = ModelHub.get(CLS)
    assert meta.weights is None  # we publish none: weights are given by path
    assert meta.config.model.backbone.type == 'LaViT'
    with pytest.raises(ValueError, match='close names'):
        get_model('mmlavit::lavit-t_synth-clss')


def test_get_model_init_model_and_classification_inferencer_with_a_checkpoint(image, tmp_path):
    from mmpretrain import get_model, init_model
    from mmpretrain.apis import ImageClassificationInferencer
    classes = [f'c{i}' for i in range(10)]
    ckpt = _save(_config_model(CLS), tmp_path / 'cls.pth', classes)
    m = get_model(CLS, pretrained=ckpt)
    ref = torch.load(ckpt, map_location='cpu')['state_dict']
    assert all(torch.equal(v, ref[k]) for k, v in m.state_dict().items())
    assert m._dataset_meta['classes'] == classes  # get_model keeps the checkpoint's dataset_meta here
    m2 = init_model(osp.join(ROOT, 'configs/lavit/lavit-t_synth-cls.py'), ckpt)  # by path (deprecated API)
    assert all(torch.equal(v, ref[k]) for k, v in m2.state_dict().items())
    inferencer = ImageClassificationInferencer(CLS, pretrained=ckpt, device='cpu')
    res = inferencer(image, show_dir=str(tmp_path / 'vis'))[0]
    assert res['pred_class'] in classes and len(res['pred_scores']) == 10
    assert abs(float(np.sum(res['pred_scores'])) - 1) < 1e-4
    assert glob.glob(str(tmp_path / 'vis' / '*.png'))
    # the same prediction from the model loaded by get_model
    res2 = ImageClassificationInferencer(m, device='cpu')(image)[0]
    assert res2['pred_label'] == res['pred_label']
    np.testing.assert_allclose(res2['pred_scores'], res['pred_scores'], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('form', ['name', 'prefixed', 'path'])
def test_det_inferencer_runs_our_detector(form, image, det_ckpt, tmp_path):
    from mmdet.apis import DetInferencer
    ckpt = det_ckpt
    model = {'name': DET, 'prefixed': f'mmlavit::lavit/{DET}.py',
             'path': osp.join(ROOT, f'configs/lavit/{DET}.py')}[form]
    inferencer = DetInferencer(model, weights=ckpt, device='cpu')
    out = inferencer(image, out_dir=str(tmp_path / 'out'), pred_score_thr=0.0, no_save_pred=False)
    pred = out['predictions'][0]
    assert set(pred) >= {'labels', 'scores', 'bboxes', 'masks'}
    assert len(pred['labels']) == len(pred['scores']) == len(pred['bboxes'])
    assert inferencer.model.dataset_meta['classes'][0] == 'circle'
    assert glob.glob(str(tmp_path / 'out' / 'vis' / '*'))


@pytest.mark.parametrize('form', ['name', 'prefixed'])
def test_seg_inferencer_runs_our_segmentor(form, image, seg_ckpt, tmp_path):
    from mmseg.apis import MMSegInferencer
    ckpt = seg_ckpt
    model = SEG if form == 'name' else f'mmlavit::{SEG}'
    inferencer = MMSegInferencer(model, weights=ckpt, device='cpu')
    out = inferencer(image, out_dir=str(tmp_path / 'out'))
    assert out['predictions'].shape == (192, 256)
    assert glob.glob(str(tmp_path / 'out' / 'vis' / '*'))


def test_inferencer_refuses_another_toolbox_config_and_unknown_names():
    from mmdet.apis import DetInferencer
    from mmseg.apis import MMSegInferencer
    with pytest.raises(ValueError, match='mmseg config'):
        DetInferencer(SEG, device='cpu')
    with pytest.raises(ValueError, match='Cannot find model'):
        MMSegInferencer('no-such-model_lavit', device='cpu')


def test_image_demo_uses_the_inferencers(image, det_ckpt, tmp_path, tool, capsys):
    res = tool(['demo/image_demo.py', image, DET, det_ckpt, '--out-dir', str(tmp_path / 'out'),
                '--score-thr', '0.0'])
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert 'DetInferencer' in res.stdout and glob.glob(str(tmp_path / 'out' / 'vis' / '*'))
    # the refusal of an unknown model: the script's main in this process (no second interpreter start-up)
    import importlib.util
    spec = importlib.util.spec_from_file_location('image_demo', osp.join(ROOT, 'demo', 'image_demo.py'))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    assert demo.main([image, 'lavit/no-such.py']) == 2
    assert 'no-such' in capsys.readouterr().err
