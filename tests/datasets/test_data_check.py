"""Bad data gives an error naming the file and the problem before training; unreadable images are listed by
tools/misc/verify_dataset.py and, opt-in, skipped with a count in the log."""
import json
import os
import os.path as osp
import shutil

import pytest

import mmlavit  # noqa: F401
from mmlavit.apis.data_check import (DataFormatError, check_class_folders, check_coco_json,
                                     check_dataset_files, check_seg_folders)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RETINANET = 'configs/lavit/retinanet_lavit-t_fpn_synth-coco.py'


def _coco(coco_root, tmp_path):
    root = tmp_path / 'coco'
    shutil.copytree(coco_root, root)
    return root, root / 'annotations' / 'instances_train2017.json'


def test_truncated_coco_json_names_the_file_and_position(coco_root, tmp_path):
    _, ann = _coco(coco_root, tmp_path)
    ann.write_text(ann.read_text()[:301])
    with pytest.raises(DataFormatError, match=rf"{ann} is not valid JSON: .* at line 1 column \d+ \(char "
                                              r"\d+ of "
                                              r"301 bytes; truncated\?\)"):
        check_coco_json(str(ann))


@pytest.mark.parametrize('break_it, message', [
    (lambda d: d.pop('annotations'), '"annotations" is missing'),
    (lambda d: d['images'][0].pop('width'), r'images\[0\] has no width'),
    (lambda d: d['annotations'][0].__setitem__('bbox', [1, 2]), r'annotations\[0\] \(id 1\) has bbox \[1, '
                                                                r'2\]'),
    (lambda d: d['annotations'][0].__setitem__('image_id', 999), r'annotations\[0\] \(id 1\) refers to '
                                                                 r'image_id 999'),
    (lambda d: d['annotations'][0].__setitem__('category_id', 77), r'annotations\[0\] \(id 1\) refers to '
                                                                   r'category_id 77'),
])
def test_wrong_coco_schema_is_named(break_it, message, coco_root, tmp_path):
    _, ann = _coco(coco_root, tmp_path)
    data = json.loads(ann.read_text())
    break_it(data)
    ann.write_text(json.dumps(data))
    with pytest.raises(DataFormatError, match=f'{ann}: {message}'):
        check_coco_json(str(ann))


def test_coco_classes_missing_from_the_categories(coco_root):
    ann = osp.join(coco_root, 'annotations', 'instances_train2017.json')
    check_coco_json(ann, ['circle', 'square'])
    with pytest.raises(DataFormatError, match=r"classes \['hexagon'\] are not among its categories"):
        check_coco_json(ann, ['circle', 'hexagon'])


def test_train_py_reports_a_malformed_annotation_file_before_training(tool, coco_root, tmp_path):
    root, ann = _coco(coco_root, tmp_path)
    ann.write_text(ann.read_text()[:301])
    res = tool(['tools/train.py', RETINANET, '--work-dir', str(tmp_path / 'wd'), '--cfg-options',
                *[f'{sp}_dataloader.dataset.data_root={root}/' for sp in ('train', 'val', 'test')]])
    assert res.returncode == 2
    assert f'train_dataloader.dataset (CocoDataset): annotation file {ann} is not valid JSON' in res.stderr
    assert not (tmp_path / 'wd').exists()  # before the Runner touched the work dir


def test_ade20k_image_without_segmentation_map(ade_root, tmp_path):
    root = tmp_path / 'ade'
    shutil.copytree(ade_root, root)
    img_dir, ann_dir = root / 'images' / 'training', root / 'annotations' / 'training'
    check_seg_folders(str(img_dir), str(ann_dir))
    gone = sorted(os.listdir(ann_dir))[0]
    os.remove(ann_dir / gone)
    with pytest.raises(DataFormatError, match=rf"{ann_dir}: 1 of 8 images of {img_dir} have no segmentation "
                                              r"map"
                                              rf".*'{gone}'"):
        check_seg_folders(str(img_dir), str(ann_dir))
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, 'configs/lavit/fpn_lavit-t_synth-ade20k.py'))
    for sp in ('train', 'val', 'test'):
        cfg[f'{sp}_dataloader'].dataset.data_root = str(root)
    with pytest.raises(DataFormatError, match=r'<cfg>: train_dataloader.dataset \(ADE20KDataset\): '):
        check_dataset_files(cfg, '<cfg>')


def test_class_folders_empty_class_and_split_mismatch(cls_root, tmp_path):
    root = tmp_path / 'cls'
    shutil.copytree(cls_root, root)
    train, val = root / 'train', root / 'val'
    classes = check_class_folders(str(train))
    assert len(classes) == 4 and check_class_folders(str(val), str(train)) == classes
    shutil.rmtree(val / classes[1])  # val lacks one class: its labels would shift
    with pytest.raises(DataFormatError, match=rf"differ from those of {train} \(missing here: "
                                              rf"\['{classes[1]}'\]"):
        check_class_folders(str(val), str(train))
    (train / 'empty_class').mkdir()
    with pytest.raises(DataFormatError, match=r"1 of 5 class folders hold no image .*\['empty_class'\]"):
        check_class_folders(str(train))


def _break_one_image(root):
    folder = osp.join(root, 'train', sorted(os.listdir(osp.join(root, 'train')))[0])
    path = osp.join(folder, sorted(os.listdir(folder))[0])
    with open(path, 'wb') as f:
        f.write(b'not an image')
    return path


def test_verify_dataset_lists_unreadable_images(tool, cls_root, tmp_path):
    root = tmp_path / 'cls'
    shutil.copytree(cls_root, root)
    broken = _break_one_image(str(root))
    out = tmp_path / 'broken.log'
    res = tool(['tools/misc/verify_dataset.py', 'configs/lavit/lavit-t_synth-cls.py', '--phase', 'train',
                'val',
                '--out-path', str(out), '--cfg-options',
                *[f'{sp}_dataloader.dataset.data_root={root}' for sp in ('train', 'val', 'test')]],
               process=True)  # mmengine's ProgressBar writes to the sys.stdout of its import: a process's own
    assert res.returncode == 1, res.stderr[-2000:]
    assert 'checking 48 files' in res.stdout and '48/48' in res.stdout  # the progress bar reached the end
    assert f'unreadable: {broken}' in res.stdout and '1 of 48 files are broken' in res.stdout
    assert out.read_text().split('\t')[0] == broken


def test_skip_unreadable_images_opt_in(tool, cls_root, tmp_path):
    root = tmp_path / 'cls'
    shutil.copytree(cls_root, root)
    broken = _break_one_image(str(root))
    opts = [*[f'{sp}_dataloader.dataset.data_root={root}' for sp in ('train', 'val', 'test')],
            'train_dataloader.num_workers=0', 'train_dataloader.batch_size=8', 'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False', 'model.head.num_classes=4',
            'data_preprocessor.num_classes=4', 'train_cfg.max_epochs=1']
    res = tool(['tools/train.py', 'configs/lavit/lavit-t_synth-cls.py', '--work-dir', str(tmp_path / 'a'),
                '--cfg-options', *opts])
    assert res.returncode != 0 and f'failed to load image: {broken}' in res.stderr  # the default: stop
    res = tool(['tools/train.py', 'configs/lavit/lavit-t_synth-cls.py', '--work-dir', str(tmp_path / 'b'),
                '--cfg-options', *opts, 'skip_unreadable_images=True'])
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert f'SkipUnreadable: skipped {broken} (AssertionError: failed to load image' in out
    assert '1 unreadable image(s) skipped so far' in out


def test_error_types_say_what_failed():
    """Dataset and checkpoint checks are split by concern: each error type says which it is, both derive from
    InputCheckError (what tools/train.py reports), and the names stay importable from data_check."""
    from mmlavit.apis import (CheckpointError, CheckpointMismatchError, CheckpointNotFoundError,
                              DatasetNotFoundError, InputCheckError, data_check)
    for err in (CheckpointError, CheckpointMismatchError, CheckpointNotFoundError):
        assert issubclass(err, InputCheckError) and not issubclass(err, DatasetNotFoundError)
    assert issubclass(DataFormatError, DatasetNotFoundError)
    assert issubclass(DatasetNotFoundError, InputCheckError)
    assert data_check.CheckpointError is CheckpointError  # the import path from before the split


def test_missing_pretrained_checkpoint_is_a_checkpoint_error():
    from mmengine.config import Config

    from mmlavit.apis import CheckpointNotFoundError, check_pretrained_paths
    init = dict(type='Pretrained', checkpoint='/nonexistent.pth')
    cfg = Config(dict(model=dict(backbone=dict(init_cfg=init))))
    with pytest.raises(CheckpointNotFoundError, match=r'model.backbone.init_cfg loads "/nonexistent.pth"'):
        check_pretrained_paths(cfg, '<cfg>')


def test_state_dict_fit_is_the_one_comparison():
    import torch

    from mmlavit.utils import state_dict_fit
    model = {'a.weight': torch.zeros(2, 3), 'a.bias': torch.zeros(2), 'b.weight': torch.zeros(4)}
    ckpt = {'a.weight': torch.ones(2, 3), 'a.bias': torch.ones(5), 'c.weight': torch.ones(1)}
    fit = state_dict_fit(model, ckpt)
    assert (fit.missing, fit.unexpected, fit.shape) == (['b.weight'], ['c.weight'], ['a.bias'])
    assert fit.fit == pytest.approx(1 / 3) and not fit.exact
    assert fit.describe(model, ckpt) == ('other shapes: a.bias (5,) in the checkpoint vs (2,) in the model; '
                                         'missing from the checkpoint: b.weight; not in the model: c.weight')
    assert state_dict_fit(model, dict(model)).exact
