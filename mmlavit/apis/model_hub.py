"""Our configs by name in the stock model APIs: mmpretrain's ``get_model`` / ``list_models`` /
``init_model`` / Inferencers, mmdet's ``DetInferencer`` and mmseg's ``MMSegInferencer``.

``import mmlavit`` calls :func:`register_model_hub`, which changes two upstream look-ups, lazily (nothing is
read until a model is asked for by name):

- mmpretrain's ``ModelHub`` registers our ``model-index.yml`` (every ``configs/*/metafile.yml`` entry) next
  to mmpretrain's own the first time it is consulted, so ``get_model('lavit-t_synth-cls', pretrained=ckpt)``,
  ``list_models('*lavit*')`` and ``ImageClassificationInferencer('lavit-t_synth-cls', pretrained=ckpt)``
  find our configs. A name that mmpretrain already has stays mmpretrain's (ours is skipped with a warning);
  ``'mmlavit::<name>'`` always means ours. A detection or segmentation entry builds in its config's own
  scope (its ``model`` gets ``_scope_=<default_scope>``), since ``get_model`` builds in mmpretrain's.
- mmengine's ``BaseInferencer._load_model_from_metafile`` (used by ``DetInferencer`` and
  ``MMSegInferencer`` for a model that is not a file) answers ``'mmlavit::<config path>.py'``,
  ``'mmlavit::<name>'`` and — when the toolbox's own metafiles do not have it — ``'<name>'`` from our index.

We publish no weights: entries have no ``Weights``, so weights are always given by path
(``pretrained=`` for mmpretrain, ``weights=`` for mmdet / mmseg).
"""
import copy
import os.path as osp
import warnings
from typing import Dict, Optional, Tuple

PREFIX = 'mmlavit::'


def model_index_root() -> str:
    """The directory holding ``model-index.yml`` and ``configs/``: ``mmlavit/.mim`` (a wheel, or the links of
    a source tree), else the source checkout that holds the package."""
    pkg = osp.dirname(osp.dirname(osp.abspath(__file__)))
    for root in (osp.join(pkg, '.mim'), osp.dirname(pkg)):
        if osp.isfile(osp.join(root, 'model-index.yml')):
            return root
    raise FileNotFoundError(f'mmlavit: no model-index.yml in {osp.join(pkg, ".mim")} or {osp.dirname(pkg)}; '
                            'reinstall mmlavit (pip install -e .) so that its configs ship with it')


_OURS: Dict[str, object] = {}  # lower-case name -> modelindex Model (config: an absolute path)


def our_models() -> Dict[str, object]:
    """Our model index, read once: ``{name: modelindex.models.Model}`` with absolute config paths."""
    if not _OURS:
        from modelindex.load_model_index import load
        root = model_index_root()
        index = load(osp.join(root, 'model-index.yml'))
        index.build_models_with_collections()
        for meta in index.models:
            if meta.config and not osp.isabs(meta.config):
                meta.config = osp.abspath(osp.join(root, meta.config))
            _OURS[meta.name.lower()] = meta
    return _OURS


def _strip(name: str) -> Tuple[str, bool]:
    return (name[len(PREFIX):], True) if name.startswith(PREFIX) else (name, False)


def load_named_config(name: str):
    """``Config`` of one of our models: ``'<name>'``, ``'mmlavit::<name>'`` or ``'mmlavit::<path>.py'`` (a
    path under ``configs/``). Raises ``ValueError`` naming the close matches when there is none."""
    from mmengine.config import Config
    bare, _ = _strip(name)
    if bare.endswith('.py'):
        path = osp.join(model_index_root(), 'configs', bare)
        if not osp.isfile(path):
            raise ValueError(f'{name}: no such config in mmlavit ({path})')
        return Config.fromfile(path)
    meta = our_models().get(bare.lower())
    if meta is None:
        import difflib
        close = difflib.get_close_matches(bare.lower(), list(our_models()), n=3, cutoff=0.5)
        raise ValueError(f'{name}: not a model of mmlavit; close names: {close}; all of them: '
                         "mmpretrain.list_models('*') or mmlavit's model-index.yml")
    return Config.fromfile(meta.config)


def _scoped(cfg):
    """A config whose model builds in its own ``default_scope`` even where the caller builds in another
    (``get_model`` builds in mmpretrain's)."""
    scope = cfg.get('default_scope')
    if scope and scope != 'mmpretrain' and isinstance(cfg.get('model'), dict):
        cfg.model.setdefault('_scope_', scope)
    return cfg


def _patch_model_hub() -> None:
    from mmpretrain.apis.model import ModelHub
    if getattr(ModelHub, '_mmlavit', False):
        return
    register_upstream = ModelHub._register_mmpretrain_models  # bound classmethod
    get = ModelHub.get

    def _register_mmpretrain_models(cls):
        register_upstream()
        if getattr(cls, '_mmlavit_registered', False):
            return
        cls._mmlavit_registered = True
        for name, meta in our_models().items():
            if name in cls._models_dict:
                warnings.warn(f'mmlavit: the model name {name!r} is mmpretrain\'s; ours is reached as '
                              f"'{PREFIX}{name}'")
                continue
            cls._models_dict[name] = meta

    def get_(cls, model_name: str):
        cls._register_mmpretrain_models()
        bare, ours = _strip(model_name)
        meta = our_models().get(bare.lower())
        if ours or (meta is not None and cls._models_dict.get(bare.lower()) is meta):
            cfg = _scoped(load_named_config(model_name))  # raises with the close names when not ours
            if meta is None:  # 'mmlavit::<path>.py'
                from modelindex.models.Model import Model
                meta = Model(name=bare, config=None)
            meta = copy.deepcopy(meta)
            meta.config = cfg
            return meta
        return get(model_name)

    ModelHub._register_mmpretrain_models = classmethod(_register_mmpretrain_models)
    ModelHub.get = classmethod(get_)
    ModelHub._mmlavit = True


def _patch_inferencer() -> None:
    from mmengine.infer.infer import BaseInferencer
    if getattr(BaseInferencer, '_mmlavit', False):
        return
    upstream = BaseInferencer._load_model_from_metafile

    def _load_model_from_metafile(self, model: str):
        bare, ours = _strip(model)
        if not ours:
            try:
                return upstream(self, model)
            except (ValueError, KeyError, ImportError) as e:  # not the toolbox's: try ours
                if bare.lower() not in our_models():
                    raise
                err: Optional[Exception] = e
        else:
            err = None
        cfg = load_named_config(model)
        scope = cfg.get('default_scope')
        if self.scope and scope and scope != self.scope:
            raise ValueError(f'{model} is an {scope} config (default_scope={scope!r}); {type(self).__name__} '
                             f'runs {self.scope} models: use the {scope} inferencer'
                             + (f' ({err})' if err else ''))
        return cfg, None  # we publish no weights: pass weights=<checkpoint path>

    BaseInferencer._load_model_from_metafile = _load_model_from_metafile
    BaseInferencer._mmlavit = True


def register_model_hub() -> None:
    """Make our model index visible to mmpretrain's ``ModelHub`` and to mmengine's Inferencers (see the
    module docstring). Idempotent; reads nothing until a model is looked up by name. A toolbox that is not
    installed is skipped."""
    for patch in (_patch_model_hub, _patch_inferencer):
        try:
            patch()
        except ImportError:
            pass
