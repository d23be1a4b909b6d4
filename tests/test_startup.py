"""The start-up patch of mmengine's private ``Config._dict_to_config_dict`` checks its target first."""
import types
import warnings

import mmengine
import pytest

import mmlavit_startup


def _fake_config_module(func):
    return types.SimpleNamespace(Config=type('Config', (), {'_dict_to_config_dict': func}))


def test_the_installed_mmengine_has_the_expected_target_and_is_patched():
    from mmengine.config import Config
    func = mmlavit_startup._checked_dict_to_config_dict(Config)
    assert getattr(func, '_mmlavit', False)  # the .pth (or import mmlavit) has patched it


def test_a_changed_signature_is_refused_naming_the_version():
    def changed(cfg, scope=None, has_scope=True, lazy=False):  # a new parameter
        return cfg

    mod = _fake_config_module(staticmethod(changed))
    with pytest.raises(mmlavit_startup.StartupPatchRefused,
                       match=rf'mmengine {mmengine.__version__}: .*_dict_to_config_dict has the signature '
                             r'\(cfg, scope=None, has_scope=True, lazy=False\), not '
                             r'\(cfg, scope=None, has_scope=True\) .*mmengine 0.7.0 to 0.10.7; the patch is '
                             'not applied'):
        mmlavit_startup._stamp_mmlavit_bases_with_their_default_scope(mod)
    assert mod.Config.__dict__['_dict_to_config_dict'].__func__ is changed  # left as it was
    # at start-up the refusal is a warning: the import of mmengine is never broken
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        mmlavit_startup._ADJUST['fake'] = mmlavit_startup._stamp_mmlavit_bases_with_their_default_scope
        try:
            mmlavit_startup._adjust('fake', mod)
        finally:
            del mmlavit_startup._ADJUST['fake']
    assert len(caught) == 1 and 'has the signature' in str(caught[0].message)
    # no longer a staticmethod, or gone
    stamp = mmlavit_startup._stamp_mmlavit_bases_with_their_default_scope
    with pytest.raises(mmlavit_startup.StartupPatchRefused, match='is classmethod, not the staticmethod'):
        stamp(_fake_config_module(classmethod(changed)))
    with pytest.raises(mmlavit_startup.StartupPatchRefused, match='is missing'):
        stamp(types.SimpleNamespace(Config=type('Config', (), {})))


def test_the_expected_signature_is_patched():
    def same(cfg, scope=None, has_scope=True):
        return scope

    mod = _fake_config_module(staticmethod(same))
    mmlavit_startup._stamp_mmlavit_bases_with_their_default_scope(mod)
    patched = mod.Config._dict_to_config_dict
    assert patched._mmlavit
    assert patched(dict(default_scope='mmdet'), scope='mmlavit') == 'mmdet'
    assert patched(dict(default_scope='mmdet'), scope='mmpretrain') == 'mmpretrain'


def test_each_config_text_is_formatted_once_with_the_same_output(monkeypatch):
    """``import mmlavit`` lets mmengine format a config text once per process; the text is yapf's."""
    from mmengine.config import Config, config
    from yapf.yapflib.yapf_api import FormatCode as yapf_format

    import mmlavit  # noqa: F401
    assert getattr(config.FormatCode, '_mmlavit', False)
    calls = []

    def counting(*args, **kwargs):
        calls.append(args)
        return yapf_format(*args, **kwargs)

    monkeypatch.setattr(config, 'FormatCode', counting)
    mmlavit_startup.format_each_config_once()  # wraps the counting formatter
    cfg = Config(dict(model=dict(type='M', depth=3), marker='each-config-once'))
    first, second = cfg.pretty_text, Config(cfg.to_dict()).pretty_text
    assert first == second
    assert len(calls) == 1
    plain = Config(dict(model=dict(type='M', depth=3), marker='each-config-once'))
    monkeypatch.setattr(config, 'FormatCode', yapf_format)  # mmengine's own formatting, unmemoized
    assert plain.pretty_text == first


def test_package_metafiles_are_read_once_per_config_name(monkeypatch):
    from mmengine.config import utils
    reads = []

    def read(package_path, cfg_path):
        reads.append(cfg_path)
        if cfg_path == 'missing.py':
            raise ValueError('Expected configs: ..., but got missing.py')
        return {'Name': cfg_path, 'Metadata': {'Epochs': 12}}

    monkeypatch.setattr(utils, '_get_cfg_metainfo', read)
    mmlavit_startup.read_package_metafiles_once()
    memo = utils._get_cfg_metainfo
    assert memo is not read and memo._mmlavit
    a = memo('/pkg', 'a.py')
    a['Metadata']['Epochs'] = 0  # the caller's copy: the kept answer is unchanged
    assert memo('/pkg', 'a.py') == {'Name': 'a.py', 'Metadata': {'Epochs': 12}}
    for _ in range(2):
        with pytest.raises(ValueError, match='but got missing.py'):
            memo('/pkg', 'missing.py')
    assert reads == ['a.py', 'missing.py']
