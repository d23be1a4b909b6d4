"""Every few-shot config stops at the first non-finite loss (DivergenceGuardHook) and restores its random
state on resume (RandomStateHook); a diverging meta-training run stops with the guard's message before
writing a checkpoint of that state."""
import glob
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

import mmlavit  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs/fewshot/*.py')))


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_every_fewshot_config_has_the_guard_and_random_state_hooks(path):
    types = [h['type'] for h in Config.fromfile(path).custom_hooks]
    assert 'DivergenceGuardHook' in types and 'RandomStateHook' in types, (path, types)


def _source(root, n_classes=6, per_class=6, size=16):
    from PIL import Image
    (root / 'images').mkdir()
    rng = np.random.default_rng(0)
    rows = ['filename,label']
    for c in range(n_classes):
        for i in range(per_class):
            img = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
            Image.fromarray(img).save(root / 'images' / f'{c}_{i}.png')
            rows.append(f'{c}_{i}.png,c{c}')
    for split in ('train', 'val', 'test'):
        (root / f'{split}.csv').write_text('\n'.join(rows) + '\n')


def test_diverging_meta_training_stops_with_the_guard_message(tmp_path):
    from mmengine.runner import Runner

    from mmlavit.engine import DivergenceError
    _source(tmp_path)
    cfg = Config.fromfile(osp.join(ROOT, 'configs/fewshot/maml_conv4_synth-fewshot-5way-1shot.py'))
    opts = {'work_dir': str(tmp_path / 'wd'), 'train_cfg.max_iters': 6, 'train_cfg.val_interval': 100,
            'default_hooks.checkpoint.interval': 1, 'default_hooks.logger.interval': 1,
            'model.backbone.channels': 8, 'model.img_size': 16, 'model.num_ways': 3,
            'randomness.seed': 0,
            'optim_wrapper.optimizer.lr': 1e30}  # the NaN-producing setting: an absurd meta learning rate
    for split in ('train', 'val', 'test'):
        d = f'{split}_dataloader.dataset.'
        opts.update({d + 'data_root': str(tmp_path), d + 'num_ways': 3, d + 'num_queries': 2,
                     d + 'num_episodes': 24, d + 'pipeline': [dict(type='LoadImageFromFile')],
                     f'{split}_dataloader.batch_size': 4})
    cfg.merge_from_dict(opts)
    runner = Runner.from_cfg(cfg)
    # iteration 1 is finite (θ untouched); its absurd Adam step makes iteration 2 NaN
    with pytest.raises(DivergenceError, match=r'diverged at iteration 2: non-finite loss terms: loss=nan'):
        runner.train()
    ckpts = sorted(osp.basename(p) for p in glob.glob(str(tmp_path / 'wd' / '*.pth')))
    assert ckpts == ['iter_1.pth']  # the last good state is kept; the NaN state is never written
