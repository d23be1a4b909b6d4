"""Glyph scenes: read by mmdet's CocoDataset and mmseg's BaseSegDataset as they are; annotations are the
visible parts of the glyphs (occlusion), mostly hidden ones are ignored, splits can keep fonts apart, and the
output is deterministic."""
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmlavit.datasets.fonts import find_fonts, matplotlib_font_dir
from mmlavit.datasets.glyph_scenes import (CHARS, glyph_classes, glyph_scene, make_glyph_ade20k,
                                           make_glyph_coco, render_glyph, scene_fonts)

FONTS = scene_fonts()
pytestmark = pytest.mark.skipif(len(FONTS) < 2, reason='needs two installed fonts that draw 0-9 and A-Z')


def test_scene_instances_are_the_visible_parts():
    for seed in range(5):
        s = glyph_scene(np.random.default_rng(seed), (96, 128), FONTS, max_objects=8)
        assert s.image.shape == (96, 128, 3) and s.image.dtype == np.uint8
        counts = np.bincount(s.instances.ravel(), minlength=len(s.classes) + 1)[1:]
        assert len(s.classes) == len(s.drawn) >= 1 and all(0 <= c < len(CHARS) for c in s.classes)
        assert np.all(counts <= np.array(s.drawn))  # later glyphs hide earlier ones, never the reverse
        assert counts[-1] == s.drawn[-1]  # the last one drawn is whole
    g = render_glyph(FONTS[0], 'W', 30, 0.0)
    assert g.max() == pytest.approx(1.0, abs=0.05) and 15 <= g.shape[0] <= 34


def test_coco_layout_read_by_mmdet(tmp_path):
    from mmdet.datasets import CocoDataset

    # min_visible 0.95: a glyph with more than 5 % hidden is marked crowd (ignored), to see some here
    opts = dict(num_train=6, num_val=3, img_size=(96, 128), fonts=FONTS, val_fonts=1, seed=3, max_objects=12,
                min_height=16, min_visible=0.95)
    test_fonts = 1 if len(FONTS) >= 3 else 0
    files = make_glyph_coco(str(tmp_path), num_test=2, test_fonts=test_fonts, **opts)
    with open(files['train2017']) as f:
        coco = json.load(f)
    assert [c['name'] for c in coco['categories']] == list(glyph_classes(background=False))
    with open(files['val2017']) as f:
        val_fonts = json.load(f)['info']['fonts']
    assert len(val_fonts) == 1 and val_fonts[0] not in coco['info']['fonts']  # unseen fonts in val
    with open(files['test2017']) as f:
        test = json.load(f)
    assert len(test['images']) == 2 and test['categories'] == coco['categories']
    assert {i['id'] for i in test['images']}.isdisjoint(i['id'] for i in coco['images'])
    if test_fonts:  # test's fonts unseen in training and in val
        seen = set(coco['info']['fonts'] + val_fonts)
        assert len(test['info']['fonts']) == 1 and not set(test['info']['fonts']) & seen
    else:
        assert test['info']['fonts'] == val_fonts
    ds = CocoDataset(data_root=str(tmp_path), ann_file='annotations/instances_train2017.json',
                     data_prefix=dict(img='train2017/'), filter_cfg=None, pipeline=[], test_mode=True,
                     metainfo=dict(classes=glyph_classes(background=False)))
    assert len(ds) == 6
    from pycocotools import mask as mask_utils
    flags = []
    for info in (ds.get_data_info(i) for i in range(len(ds))):
        masks = []
        for inst in info['instances']:
            x0, y0, x1, y1 = inst['bbox']
            assert 0 <= x0 < x1 <= 128 and 0 <= y0 < y1 <= 96 and 0 <= inst['bbox_label'] < len(CHARS)
            m = mask_utils.decode(inst['mask']).astype(bool)
            ys, xs = np.nonzero(m)
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x0, y0, x1, y1)  # box of the mask
            masks.append(m)
            flags.append(inst['ignore_flag'])
        total = np.sum(masks, axis=0)
        assert total.max() <= 1  # visible parts do not overlap
    assert flags == [a['iscrowd'] for a in coco['annotations']]  # mostly hidden glyphs: ignored by mmdet
    assert 0 < sum(flags) < len(flags)
    # deterministic given the seed and the fonts; train and val the same without the test split
    again = make_glyph_coco(str(tmp_path / 'again'), num_test=0, test_fonts=test_fonts, **opts)
    assert set(again) == {'train2017', 'val2017'} and not osp.exists(osp.join(tmp_path, 'again', 'test2017'))
    for split in ('train2017', 'val2017'):
        with open(again[split]) as f, open(files[split]) as g:
            assert json.load(f) == json.load(g)
    a = np.asarray(Image.open(osp.join(tmp_path, 'train2017', '000000000001.jpg')))
    b = np.asarray(Image.open(osp.join(tmp_path, 'again', 'train2017', '000000000001.jpg')))
    assert np.array_equal(a, b)


def test_ade20k_layout_read_by_mmseg(tmp_path):
    from mmseg.datasets import BaseSegDataset
    from mmseg.datasets.transforms import LoadAnnotations
    out = make_glyph_ade20k(str(tmp_path), num_train=4, num_val=2, num_test=3, img_size=(64, 64), fonts=FONTS,
                            seed=1, max_objects=6, min_height=8)
    assert out == {k: osp.join(str(tmp_path), 'images', v)
                   for k, v in (('train', 'training'), ('val', 'validation'), ('test', 'testing'))}
    for split, stem, n in (('validation', 'valid', 2), ('testing', 'test', 3)):
        names = sorted(p.name for p in (tmp_path / 'annotations' / split).iterdir())
        assert names == [f'ADE_{stem}_{i:08d}.png' for i in range(n)]
        assert len(list((tmp_path / 'images' / split).iterdir())) == n
    ds = BaseSegDataset(data_root=str(tmp_path), img_suffix='.jpg', seg_map_suffix='.png',
                        reduce_zero_label=True,
                        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
                        metainfo=dict(classes=glyph_classes()), pipeline=[])
    assert len(ds) == 4 and ds.metainfo['classes'][:2] == ('background', '0')
    load = LoadAnnotations(reduce_zero_label=True)
    seen = set()
    for i in range(len(ds)):
        seg = load(dict(ds.get_data_info(i), seg_fields=[]))['gt_seg_map']
        values = set(np.unique(seg).tolist())
        assert values <= set(range(len(CHARS) + 1)) | {255}  # background 0, glyphs 1..36, ignored 255
        seen |= values
    assert 0 in seen and len(seen - {0, 255}) >= 2


def test_find_fonts_is_the_one_font_search(tmp_path):
    """One font search for the glyph scenes and the font-glyph converter: files only, or those that draw the
    characters; matplotlib's fonts only when asked; links resolved, each file once."""
    mpl = matplotlib_font_dir()
    files = find_fonts([mpl])
    assert files and all(f.endswith(('.ttf', '.otf')) for f in files) and files == sorted(set(files))
    (tmp_path / 'link.ttf').symlink_to(files[0])
    (tmp_path / 'notes.txt').write_text('not a font')
    assert find_fonts([str(tmp_path)]) == [files[0]]  # the real path, once
    assert find_fonts([str(tmp_path / 'missing')]) == []
    assert set(find_fonts([str(tmp_path)], with_matplotlib=True)) == set(files)
    names = {osp.basename(p) for p in find_fonts([mpl], chars='A0')}
    assert 'DejaVuSans.ttf' in names and 'STIXSizOneSymReg.ttf' not in names  # a symbol font: no 'A', no '0'
    assert set(FONTS) <= set(find_fonts(with_matplotlib=True))
