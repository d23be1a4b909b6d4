"""The generated datasets are read by the stock OpenMMLab dataset classes, deterministically."""
import csv
import hashlib
import os.path as osp

import numpy as np

import mmlavit  # noqa: F401
from mmlavit.datasets import synthetic


def test_coco_read_by_stock_cocodataset(coco_root):
    from mmdet.datasets import CocoDataset
    ds = CocoDataset(data_root=coco_root, ann_file='annotations/instances_train2017.json',
                     data_prefix=dict(img='train2017/'), metainfo=dict(classes=synthetic.COCO_CLASSES),
                     pipeline=[], filter_cfg=dict(filter_empty_gt=True))
    assert len(ds) == 8
    item = ds[0]
    assert osp.isfile(item['img_path'])
    inst = item['instances'][0]
    x0, y0, x1, y1 = inst['bbox']
    assert 0 <= x0 < x1 <= item['width'] and 0 <= y0 < y1 <= item['height']
    assert len(inst['mask'][0]) >= 6 and 0 <= inst['bbox_label'] < 4


def test_ade20k_read_by_stock_dataset(ade_root):
    from mmengine.registry import init_default_scope
    from mmseg.datasets import ADE20KDataset
    init_default_scope('mmseg')
    ds = ADE20KDataset(data_root=ade_root, data_prefix=dict(img_path='images/training',
                                                            seg_map_path='annotations/training'),
                       pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')])
    assert len(ds) == 8
    seg = ds[0]['gt_seg_map']
    assert set(np.unique(seg)) <= {0, 1, 2, 3, 4, 255}  # ADE ids 1..5 -> 0..4, "other" -> ignore
    assert ds[0]['img'].shape[:2] == seg.shape


def test_class_folders_read_by_customdataset(cls_root):
    from mmpretrain.datasets import CustomDataset
    ds = CustomDataset(data_root=cls_root, data_prefix='train', pipeline=[])
    assert len(ds) == 32 and len(ds.CLASSES) == 4
    assert sorted({ds.get_cat_ids(i)[0] for i in range(len(ds))}) == [0, 1, 2, 3]
    ann = CustomDataset(data_root=cls_root, data_prefix='val', ann_file='meta/val.txt', with_label=True,
                        pipeline=[])
    assert len(ann) == 16


def test_fewshot_csv_splits_disjoint(tmp_path):
    out = synthetic.make_fewshot(str(tmp_path), num_classes=(5, 3, 4), per_class=3, img_size=32)
    labels = {}
    for split, path in out.items():
        with open(path) as f:
            rows = list(csv.DictReader(f))
        assert rows and set(rows[0]) == {'filename', 'label'}
        labels[split] = {r['label'] for r in rows}
        assert all(osp.isfile(osp.join(tmp_path, 'images', r['filename'])) for r in rows)
    assert [len(labels[s]) for s in ('train', 'val', 'test')] == [5, 3, 4]
    assert not (labels['train'] & labels['val']) and not (labels['train'] & labels['test'])


def test_deterministic_by_seed(tmp_path):
    def digest(root):
        h = hashlib.md5()
        for c in sorted((tmp_path / root / 'train').iterdir()):
            for f in sorted(c.iterdir()):
                h.update(f.read_bytes())
        return h.hexdigest()
    for name, seed in (('a', 3), ('b', 3), ('c', 4)):
        synthetic.make_imagenet(str(tmp_path / name), num_classes=2, train_per_class=2, val_per_class=1,
                                seed=seed)
    assert digest('a') == digest('b') != digest('c')


def test_images_carry_signal():
    """Same-class images share appearance; a nearest-class-mean colour classifier beats chance clearly."""
    rng = np.random.default_rng(0)
    feats, labels = [], []
    for c in range(6):
        spec = synthetic._class_spec(c, 0)
        for _ in range(20):
            img = synthetic.draw_class_image(spec, 48, rng).astype(float)
            hist = np.concatenate([np.histogram(img[..., k], bins=8, range=(0, 255))[0] for k in range(3)])
            feats.append(hist / hist.sum())
            labels.append(c)
    feats, labels = np.array(feats), np.array(labels)
    tr, te = np.arange(len(labels)) % 2 == 0, np.arange(len(labels)) % 2 == 1
    means = np.stack([feats[tr & (labels == c)].mean(0) for c in range(6)])
    pred = np.argmin(((feats[te][:, None] - means[None]) ** 2).sum(-1), axis=1)
    assert (pred == labels[te]).mean() > 0.5  # chance is 1/6
