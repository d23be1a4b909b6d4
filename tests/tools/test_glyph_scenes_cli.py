"""tools/dataset_converters/glyph_scenes.py, in-process on a tiny size: both layouts written where the glyph
configs read them (their own dataset bases build the stock datasets on the output), the settings recorded,
and clear errors (no font, a folder in the way, too many val-only fonts, bad sizes)."""
import importlib.util
import json
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _main():
    spec = importlib.util.spec_from_file_location(
        'glyph_scenes_cli', osp.join(ROOT, 'tools', 'dataset_converters', 'glyph_scenes.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


def _dataset(base, data_root, loader):
    from mmengine.config import Config
    from mmengine.registry import DATASETS, DefaultScope

    import mmlavit  # noqa: F401
    cfg = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'datasets', base))
    ds_cfg = cfg[loader].dataset.to_dict()
    ds_cfg.update(data_root=data_root, pipeline=[])
    scope = 'mmdet' if 'coco' in base else 'mmseg'
    with DefaultScope.overwrite_default_scope(scope):
        return DATASETS.build(ds_cfg), cfg


def test_both_layouts_read_by_the_glyph_configs(tmp_path, capsys):
    main = _main()
    out = tmp_path / 'data'
    assert main(['both', str(out), '--num-train', '3', '--num-val', '2', '--num-test', '2',
                 '--img-size', '64', '80', '--val-fonts', '1', '--max-objects', '4', '--min-height', '12',
                 '--seed', '5']) == 0
    printed = capsys.readouterr().out
    assert 'coco: 3 train / 2 val / 2 test images, 36 classes' in printed and 'ade20k: 3 train' in printed
    coco, ade = out / 'glyph_coco', out / 'glyph_ade20k'
    settings = json.loads((coco / '.mmlavit-generated').read_text())
    assert settings['layout'] == 'coco' and settings['seed'] == 5 and settings['img_size'] == [64, 80]
    assert len(settings['fonts']) >= 2
    ann = json.loads((coco / 'annotations' / 'instances_val2017.json').read_text())
    assert len(ann['info']['fonts']) == 1  # --val-fonts 1: val drawn by one font unseen in training
    assert ann['images'][0]['height'] == 64 and ann['images'][0]['width'] == 80

    train, cfg = _dataset('glyph_coco_instance.py', str(coco), 'train_dataloader')
    assert cfg.data_command.endswith('glyph_scenes.py coco data/glyph_coco')
    assert len(train.metainfo['classes']) == 36 and len(train) >= 1  # images without glyphs are filtered
    val, _ = _dataset('glyph_coco_instance.py', str(coco), 'val_dataloader')
    test, cfg = _dataset('glyph_coco_instance.py', str(coco), 'test_dataloader')
    assert len(val) == 2 and len(test) == 2 and test.ann_file.endswith('instances_test2017.json')
    assert cfg.test_evaluator.ann_file.endswith('instances_test2017.json')  # scored on test, not val
    assert cfg.val_evaluator.ann_file.endswith('instances_val2017.json')
    seg_test, _ = _dataset('glyph_ade20k.py', str(ade), 'test_dataloader')
    assert len(seg_test) == 2 and seg_test.data_prefix['img_path'].endswith('images/testing')
    seg, _ = _dataset('glyph_ade20k.py', str(ade), 'train_dataloader')
    assert len(seg) == 3 and seg.metainfo['classes'][:2] == ('background', '0')
    assert len(seg.metainfo['classes']) == 37

    # a second run does not overwrite; --force does, the same seed gives the same data
    assert main(['coco', str(coco), '--num-train', '3', '--num-val', '2']) == 2
    assert 'already holds generated glyph scenes' in capsys.readouterr().err
    first = (coco / 'annotations' / 'instances_train2017.json').read_text()
    same = ['--num-train', '3', '--num-val', '2', '--num-test', '1', '--img-size', '64', '80',
            '--val-fonts', '1', '--max-objects', '4', '--min-height', '12', '--seed', '5']
    assert main(['coco', str(coco), *same, '--force']) == 0
    assert (coco / 'annotations' / 'instances_train2017.json').read_text() == first


def test_errors_name_the_fix(tmp_path, capsys):
    main = _main()
    empty = tmp_path / 'no_fonts'
    empty.mkdir()
    assert main(['coco', str(tmp_path / 'a'), '--font-dirs', str(empty), '--no-matplotlib-fonts']) == 2
    err = capsys.readouterr().err
    assert f"no font under ['{empty}'] draws all 36 characters" in err and 'install fonts' in err
    assert not (tmp_path / 'a').exists()
    assert main(['ade20k', str(tmp_path / 'b'), '--val-fonts', '10000']) == 2
    assert '--val-fonts 10000 and --test-fonts 0 need at least 10001 fonts' in capsys.readouterr().err
    assert main(['ade20k', str(tmp_path / 'b'), '--val-fonts', '1', '--test-fonts', '10000']) == 2
    assert '--test-fonts 10000 need at least 10002 fonts' in capsys.readouterr().err
    (tmp_path / 'c').mkdir()
    (tmp_path / 'c' / 'mine.txt').write_text('x')
    assert main(['coco', str(tmp_path / 'c')]) == 2
    assert 'files this tool did not write' in capsys.readouterr().err
    for bad, message in ((['--img-size', '8', '8'], 'at least 16 px'), (['--num-train', '0'], 'at least 1'),
                         (['--num-test', '0'], '--num-test must be at least 1'),
                         (['--test-fonts', '-1'], '0 or more'),
                         (['--chars', 'AA'], 'repeats a character'),
                         (['--min-height', '20', '--max-height', '10'], 'below --min-height')):
        with pytest.raises(SystemExit):
            main(['coco', str(tmp_path / 'd'), *bad])
        assert message in capsys.readouterr().err
