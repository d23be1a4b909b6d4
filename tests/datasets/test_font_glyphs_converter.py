"""tools/dataset_converters/font_glyphs.py on a tiny case: three characters drawn by matplotlib's fonts."""
import csv
import importlib.util
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CHARS = 'A0g'


def _load():
    path = osp.join(ROOT, 'tools', 'dataset_converters', 'font_glyphs.py')
    spec = importlib.util.spec_from_file_location('font_glyphs', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def mpl_fonts():
    import matplotlib
    return osp.join(matplotlib.get_data_path(), 'fonts', 'ttf')


@pytest.fixture(scope='module')
def converted(tmp_path_factory, mpl_fonts):
    out = str(tmp_path_factory.mktemp('glyphs') / 'data')
    mod = _load()
    assert mod.main([out, '--font-dirs', mpl_fonts, '--chars', CHARS, '--img-size', '12',
                     '--max-train-fonts', '5']) == 0
    return out


def test_layout_and_images(converted):
    mod = _load()
    dirs = open(osp.join(converted, 'classes.txt')).read().split()
    assert dirs == ['000_LATIN_CAPITAL_LETTER_A', '001_DIGIT_ZERO', '002_LATIN_SMALL_LETTER_G']
    rows = list(csv.DictReader(open(osp.join(converted, 'fonts.tsv')), delimiter='\t'))
    counts = {s: sum(r['split'] == s for r in rows) for s in ('train', 'val', 'test')}
    assert counts['train'] == 5 and counts['val'] >= 1 and counts['test'] >= 1  # --max-train-fonts 5
    for split, n in counts.items():
        assert sorted(os.listdir(osp.join(converted, split))) == dirs
        for d in dirs:  # one image per (font, class)
            files = sorted(os.listdir(osp.join(converted, split, d)))
            assert files == sorted(f'{r["font_id"]}.png' for r in rows if r['split'] == split)
    img = np.asarray(Image.open(osp.join(converted, 'train', dirs[0], rows[0]['font_id'] + '.png')))
    assert img.shape == (12, 12) and img.dtype == np.uint8 and img.max() > 64
    # the splits are by family: no family in two splits; one file per (family, style)
    fam = {s: {r['family'] for r in rows if r['split'] == s} for s in counts}
    assert not (fam['train'] & fam['val'] or fam['train'] & fam['test'] or fam['val'] & fam['test'])
    assert len({(r['family'], r['style']) for r in rows}) == len(rows)
    # matplotlib's LastResort font draws one box for every code point: dropped
    assert not any('LastResort' in r['file'] for r in rows)
    assert mod.class_dir(3, '£') == '003_POUND_SIGN'


def test_custom_dataset_reads_it(converted):
    from mmpretrain.datasets import CustomDataset
    ds = CustomDataset(data_root=converted, data_prefix='val', pipeline=[])
    assert len(ds.CLASSES) == 3
    assert len(ds) == 3 * len(os.listdir(osp.join(converted, 'val', '000_LATIN_CAPITAL_LETTER_A')))


def test_typicality_flags_the_odd_font():
    mod = _load()
    rng = np.random.default_rng(0)
    proto = rng.integers(0, 255, (4, 8, 8))
    fonts = np.stack([np.clip(proto + rng.integers(-20, 20, proto.shape), 0, 255) for _ in range(5)]
                     + [rng.integers(0, 255, (4, 8, 8))])  # the last one draws something else
    t = mod.typicality(fonts.astype(np.uint8))
    assert t[:5].min() > 0.9 and t[5] < 0.3


def test_errors(tmp_path, mpl_fonts):
    mod = _load()
    with pytest.raises(FileNotFoundError, match='no .ttf/.otf font files under'):
        mod.convert(str(tmp_path / 'a'), font_dirs=[str(tmp_path)], chars='A')
    with pytest.raises(ValueError, match=r'only [01] font\(s\) .* cover all 1 characters'):
        mod.convert(str(tmp_path / 'b'), font_dirs=[mpl_fonts], chars='\ue000')  # only LastResort has it
    with pytest.raises(ValueError, match='repeats a character'):
        mod.convert(str(tmp_path / 'c'), font_dirs=[mpl_fonts], chars='AA')
