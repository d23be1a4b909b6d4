"""mmlavit: LaViT, CLKD/TRG distillation and GP-MAML few-shot learning for OpenMMLab 2.x.

``import mmlavit`` (or ``custom_imports=dict(imports=['mmlavit'])``) registers every type of ours into the
mmpretrain, mmdet and mmseg registries (see :mod:`mmlavit.registry`), enables ``_base_ = 'mmlavit::...'``
config bases, and allows mmengine's checkpoint types under torch's ``weights_only`` loading.
"""
from .utils.setup_env import setup_mmlavit_env
from .version import __version__

setup_mmlavit_env()

from . import datasets, engine, evaluation, models  # noqa: E402,F401  (registers our types)

__all__ = ['__version__']
