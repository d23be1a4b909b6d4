"""mmlavit: LaViT, CLKD/TRG distillation and GP-MAML few-shot learning for OpenMMLab 2.x.

``import mmlavit`` (or ``custom_imports=dict(imports=['mmlavit'])``) registers every type of ours into the
mmpretrain, mmdet and mmseg registries (see :mod:`mmlavit.registry`), enables ``_base_ = 'mmlavit::...'``
config bases, allows mmengine's checkpoint types under torch's ``weights_only`` loading, and makes our
model index known to mmpretrain's ``get_model`` / ``list_models`` and the Inferencers
(:mod:`mmlavit.apis.model_hub`).
"""
from .utils.setup_env import setup_mmlavit_env
from .version import __version__

setup_mmlavit_env()

from . import datasets, engine, evaluation, models  # noqa: E402,F401  (registers our types)
from .apis.model_hub import register_model_hub  # noqa: E402

register_model_hub()  # our configs by name in get_model / list_models / the Inferencers (read lazily)

__all__ = ['__version__']
