"""Config loading shared by tools/train.py and tools/test.py."""
import os.path as osp
from typing import Optional

from mmengine.config import Config


def load_config(path: str, launcher: str = 'none', cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None) -> Config:
    """Parse ``path``, apply ``--cfg-options`` and the launcher, wrap the model in a distiller when the config
    has a ``distiller`` block, and set ``work_dir`` as mmdet's tools do: the argument, else the config's, else
    ``./work_dirs/<config name>``."""
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    from mmlavit.models.distillers import apply_distiller  # a `distiller` block wraps cfg.model
    apply_distiller(cfg)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg
