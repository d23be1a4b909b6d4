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


def test_each_metafile_is_parsed_once_per_process(monkeypatch, tmp_path):
    """Looking up several configs of one package parses its index and each metafile once, and answers what
    mmengine's own look-up answers."""
    from mmengine import fileio
    from mmengine.config import utils
    mim = tmp_path / '.mim'
    for name, cfgs in (('a', ['a1', 'a2']), ('b', ['b1'])):
        (mim / 'configs' / name).mkdir(parents=True)
        (mim / 'configs' / name / 'metafile.yml').write_text(
            'Models:\n' + ''.join(f'  - Name: {c}\n    Config: configs/{name}/{c}.py\n' for c in cfgs))
    (mim / 'model-index.yml').write_text('Import:\n  - configs/a/metafile.yml\n  - configs/b/metafile.yml\n')
    loads = []

    def counting(file, *args, **kwargs):
        loads.append(file)
        return fileio.load(file, *args, **kwargs)

    mmengine_read = getattr(utils._get_cfg_metainfo, '__wrapped__', utils._get_cfg_metainfo)
    monkeypatch.setattr(utils, 'load', counting)
    monkeypatch.setattr(utils, '_get_cfg_metainfo', mmengine_read)
    mmlavit_startup.read_package_metafiles_once()
    memo = utils._get_cfg_metainfo
    assert memo is not mmengine_read and utils.load is not counting
    pkg = str(tmp_path)
    assert memo(pkg, 'a/a2.py') == {'Name': 'a2', 'Config': 'configs/a/a2.py'}
    assert memo(pkg, 'b/b1.py') == {'Name': 'b1', 'Config': 'configs/b/b1.py'}
    with pytest.raises(ValueError, match='but got missing'):
        memo(pkg, 'missing')
    assert sorted(loads) == sorted(str(p) for p in (mim / 'model-index.yml', mim / 'configs/a/metafile.yml',
                                                    mim / 'configs/b/metafile.yml'))


def test_a_found_package_is_looked_up_once(monkeypatch):
    from mmengine.config import config
    asked = []

    def is_installed(package):
        asked.append(package)
        return package == 'mmdet'

    monkeypatch.setattr(config, 'is_installed', is_installed)
    mmlavit_startup.look_up_packages_once()
    memo = config.is_installed
    assert memo is not is_installed and memo._mmlavit
    assert [memo('mmdet'), memo('mmdet'), memo('nope'), memo('nope')] == [True, True, False, False]
    assert asked == ['mmdet', 'nope', 'nope']  # a package not found is looked up again
