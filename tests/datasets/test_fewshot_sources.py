"""Few-shot sources: CSV split errors name the file and the row; the real-digits converter's classes."""
import os.path as osp

import numpy as np
import pytest

import mmlavit  # noqa: F401
from mmlavit.datasets import EpisodicDataset
from mmlavit.datasets.fewshot import read_class_folders, read_csv_split

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _split(tmp_path, text, images=('a.png', 'b.png')):
    (tmp_path / 'images').mkdir(exist_ok=True)
    for name in images:
        (tmp_path / 'images' / name).write_bytes(b'')
    (tmp_path / 'train.csv').write_text(text)
    return str(tmp_path / 'train.csv'), str(tmp_path / 'images')


def test_csv_split_good(tmp_path):
    paths, labels = read_csv_split(*_split(tmp_path, 'filename,label\na.png,n01\n\nb.png, n02\n'))
    assert [p.rsplit('/', 1)[1] for p in paths] == ['a.png', 'b.png'] and labels == ['n01', 'n02']


@pytest.mark.parametrize('text,match', [
    ('file,class\na.png,n01\n', r'train.csv, line 1: expected the header "filename,label"'),
    ('filename,label\na.png,n01\nb.png,n02,extra\n', r'train.csv, line 3: expected "filename,label".*extra'),
    ('filename,label\na.png,n01\nb.png\n', r'train.csv, line 3: .*2 non-empty'),
    ('filename,label\na.png,\n', r'train.csv, line 2: '),
    ('filename,label\n', r'train.csv: no "filename,label" rows'),
    ('filename,label\na.png,n01\nmissing.png,n01\n',
     r'train.csv: 1 of 2 rows name images missing .*line 3: missing.png'),
])
def test_csv_split_errors_name_file_and_row(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        read_csv_split(*_split(tmp_path, text))


def test_missing_sources_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.csv'):
        EpisodicDataset(data_root=str(tmp_path), ann_file='nope.csv', data_prefix='images')
    csv_path, _ = _split(tmp_path, 'filename,label\na.png,n01\n')
    with pytest.raises(FileNotFoundError, match='image folder'):
        read_csv_split(csv_path, str(tmp_path / 'elsewhere'))
    with pytest.raises(FileNotFoundError, match='class-folder source'):
        read_class_folders(str(tmp_path / 'none'))
    (tmp_path / 'empty' / 'cls').mkdir(parents=True)
    with pytest.raises(ValueError, match='no images'):
        read_class_folders(str(tmp_path / 'empty'))


def _converter():
    import importlib.util
    path = osp.join(ROOT, 'tools/dataset_converters/digits_fewshot.py')
    spec = importlib.util.spec_from_file_location('digits_fewshot', path)
    conv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conv)
    return conv


def test_digit_symmetry_classes_hand_built():
    conv = _converter()
    rng = np.random.default_rng(0)
    plus = np.zeros((8, 8))
    plus[3:5, :] = plus[:, 3:5] = 16  # digit 0: the same under all 8 symmetries -> one class
    noise = rng.random((8, 8)) * 16  # digit 1: no symmetry -> 8 classes
    rotated = np.rot90(noise)  # digit 2: a pose of digit 1 -> every one of its 8 is a duplicate
    images = np.stack([plus + rng.random((8, 8)) * .1 for _ in range(3)] + [noise] * 3 + [rotated] * 3)
    labels = np.repeat([0, 1, 2], 3)
    kept = conv.make_classes(images, labels)
    assert [c for c in kept if c[0] == 0] == [(0, 0, False)]
    assert len([c for c in kept if c[0] == 1]) == 8 and not [c for c in kept if c[0] == 2]
    # the transform: rot90 counter-clockwise then a left-right flip
    img = np.arange(4).reshape(2, 2)
    assert conv.transform(img, 1, True).tolist() == [[3, 1], [2, 0]]


def test_digits_converter_real_split(tmp_path):
    _converter().main([str(tmp_path)])
    splits = {s: read_csv_split(str(tmp_path / f'{s}.csv'), str(tmp_path / 'images'))
              for s in ('train', 'val', 'test')}
    classes = {s: set(labels) for s, (_, labels) in splits.items()}
    assert [len(classes[s]) for s in ('train', 'val', 'test')] == [38, 8, 16]
    digits = {s: {c[1] for c in cls} for s, cls in classes.items()}  # names are d<digit>_r<deg>[_f]
    assert digits == dict(train=set('0123458'), val={'7'}, test={'6', '9'})  # disjoint by digit
    counts = [labels.count(c) for _, labels in splits.values() for c in set(labels)]
    assert min(counts) >= 174 and max(counts) <= 183
