"""Our types build from stock configs of all three toolboxes, through their own scopes."""
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

import mmlavit  # noqa: F401
from mmlavit.models import LaViT
from mmlavit.registry import HOOKS, MODELS, downstream_registries, register


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet', 'mmseg'])
def test_lavit_in_every_downstream_registry(scope):
    init_default_scope(scope)
    with DefaultScope.overwrite_default_scope(scope):
        reg = f'{scope}.registry'
        models = __import__(reg, fromlist=['MODELS']).MODELS
        m = models.build(dict(type='LaViT', arch='tiny', out_indices=(3,)))
        assert isinstance(m, LaViT)
    assert MODELS.get('LaViT') is LaViT


def _stock(tmp_path, text):
    p = tmp_path / 'user_cfg.py'
    p.write_text(text)
    return Config.fromfile(str(p))


def test_stock_mmdet_config_with_custom_imports_builds_lavit(tmp_path):
    cfg = _stock(tmp_path, """
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
model = dict(backbone=dict(_delete_=True, type='LaViT', arch='tiny'),
             neck=dict(in_channels=[128, 320, 512], start_level=0))
""")
    from mmdet.registry import MODELS as DET
    init_default_scope(cfg.default_scope)
    model = DET.build(cfg.model)  # LaViT is nested inside an mmdet type: no _scope_ needed
    assert isinstance(model.backbone, LaViT)


def test_stock_mmseg_config_builds_lavit(tmp_path):
    cfg = _stock(tmp_path, """
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mmlavit'], allow_failed_imports=False)
model = dict(pretrained=None,  # mmseg's EncoderDecoder would pass `pretrained` into the backbone
             backbone=dict(_delete_=True, type='LaViT', arch='tiny'),
             neck=dict(in_channels=[64, 128, 320, 512]))
""")
    from mmseg.registry import MODELS as SEG
    init_default_scope(cfg.default_scope)
    model = SEG.build(cfg.model)
    assert isinstance(model.backbone, LaViT)


def test_mmpretrain_classifier_builds_lavit():
    from mmpretrain.registry import MODELS as PRE
    init_default_scope('mmpretrain')
    model = PRE.build(dict(type='ImageClassifier', backbone=dict(type='LaViT', arch='tiny', out_indices=(3,)),
                           neck=dict(type='GlobalAveragePooling'),
                           head=dict(type='LinearClsHead', num_classes=3, in_channels=512)))
    assert isinstance(model.backbone, LaViT)


def test_hook_registered_everywhere_and_register_errors():
    for reg in downstream_registries('hook'):
        assert reg.get('AuxiliaryLossHook') is HOOKS.get('AuxiliaryLossHook')
    with pytest.raises(KeyError, match='unknown registry kind'):
        register('optimizer')


def test_mmlavit_imports_without_mmdet_and_mmseg(tmp_path):
    """mmdet and mmsegmentation are extras (mmlavit[det] / [seg]): without them mmlavit imports and builds an
    mmpretrain model from an ``mmlavit::`` base; only mmpretrain's registries receive our types."""
    import subprocess
    import sys
    code = '''
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('mmdet', 'mmseg'):
            raise ModuleNotFoundError(f'No module named {name!r} (blocked)')
sys.meta_path.insert(0, Block())
import mmlavit
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from mmlavit.registry import downstream_registries
cfg = Config.fromfile(sys.argv[1])
with DefaultScope.overwrite_default_scope(cfg.default_scope):
    model = MODELS.build(cfg.model)
assert 'mmdet' not in sys.modules and 'mmseg' not in sys.modules
print(type(model).__name__, [r.scope for r in downstream_registries('model')])
'''
    user = tmp_path / 'user_cfg.py'
    user.write_text("_base_ = 'mmlavit::lavit/lavit-t_synth-cls.py'\n")
    res = subprocess.run([sys.executable, '-c', code, str(user)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "ImageClassifier ['mmpretrain']" in res.stdout
