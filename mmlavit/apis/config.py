"""Config loading shared by tools/train.py and tools/test.py."""
import os.path as osp
from typing import Optional

from mmengine.config import Config


def load_config(path: str, launcher: str = 'none', cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None) -> Config:
    """Parse ``path``, apply ``--cfg-options`` and the launcher, refuse an old top-level ``distiller`` block
    (with the ``model = dict(type='SingleTeacherDistiller', ...)`` to write instead, see
    :mod:`mmlavit.models.distillers.legacy`), and set ``work_dir`` as mmdet's tools do: the argument, else the
    config's, else ``./work_dirs/<config name>``."""
    cfg = Config.fromfile(path)
    from mmlavit.models.distillers import check_no_legacy_distiller
    check_no_legacy_distiller(cfg, path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg
