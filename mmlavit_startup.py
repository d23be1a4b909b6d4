"""``mmlavit::`` config bases for every entry point, registered at interpreter start-up and applied lazily.

The wheel and the editable install put ``mmlavit-startup.pth`` into site-packages; its one line calls
:func:`install`, which only puts a small finder at the front of ``sys.meta_path``: nothing is imported
(no torch, no mmengine). The finder watches a few module names. When one of them is imported for the first
time it lets the normal import machinery load it and then adjusts it:

- ``mmengine.utils.package_utils`` and ``mim.utils.utils``: ``get_installed_path('mmlavit')`` answers the
  directory of the ``mmlavit`` package (where ``.mim/`` is) instead of ``<distribution location>/mmlavit``,
  which does not exist for an editable install (its location is site-packages, which holds only a finder);
- ``mmengine.config.utils``: ``MODULE2PACKAGE`` learns ``mmlavit``, so ``_base_ = 'mmlavit::...'`` and
  ``mmengine.hub.get_config('mmlavit::...')`` resolve;
- ``mmengine.config.config``: the typed dicts of an ``mmlavit::`` base get that base's own ``default_scope``
  as ``_scope_`` (see :func:`_stamp_mmlavit_bases_with_their_default_scope`).

So a config with an ``mmlavit::`` base parses in mmpretrain's, mmdet's and mmseg's own ``tools/train.py``, in
``mim train`` and in any script, before ``custom_imports`` imports mmlavit. ``import mmlavit`` applies the
same adjustments (:func:`enable_config_scope`) where the ``.pth`` is absent (a source tree on
``PYTHONPATH``) or mmengine was imported before the finder was installed. Once every watched module has been
seen the finder leaves ``sys.meta_path``. An adjustment that fails (an mmengine or mim that changed) warns
and leaves that module as it is.

This module imports only ``sys`` at start-up; it must stay that light (``python -X importtime -c pass``).
"""
import sys

PACKAGE = 'mmlavit'


def _package_dir() -> str:
    """The directory of the ``mmlavit`` package, found without importing it."""
    import importlib.util
    import os.path as osp
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f'the {PACKAGE} package cannot be found on sys.path')
    return osp.abspath(list(spec.submodule_search_locations)[0])


def _answer_our_installed_path(module) -> None:
    """Wrap ``module.get_installed_path`` (mmengine's or mim's) so that it answers our package directory."""
    original = module.get_installed_path
    if getattr(original, '_mmlavit', False):
        return

    def get_installed_path(package: str) -> str:
        if package == PACKAGE:
            return _package_dir()
        return original(package)

    get_installed_path._mmlavit = True
    get_installed_path.__doc__ = original.__doc__
    module.get_installed_path = get_installed_path


def _add_module2package(config_utils) -> None:
    config_utils.MODULE2PACKAGE.setdefault(PACKAGE, PACKAGE)


#: the target's parameters as ``(name, kind, default)``: ``_dict_to_config_dict(cfg, scope=None,
#: has_scope=True)``, a staticmethod, in every mmengine from 0.7.0 to 0.10.7 (setup.py: >=0.8.3,<1.0.0)
_EXPECTED = (('cfg', 'POSITIONAL_OR_KEYWORD', '<empty>'), ('scope', 'POSITIONAL_OR_KEYWORD', None),
             ('has_scope', 'POSITIONAL_OR_KEYWORD', True))
_CHECKED_RANGE = '0.7.0 to 0.10.7'


class StartupPatchRefused(RuntimeError):
    """mmengine's private ``Config._dict_to_config_dict`` is not the one this patch was written for."""


def _mmengine_version() -> str:
    version = getattr(sys.modules.get('mmengine.version'), '__version__', None)
    if version is None:
        try:
            from importlib.metadata import version as dist_version
            version = dist_version('mmengine')
        except Exception:  # a source tree without metadata
            version = 'unknown'
    return version


def _checked_dict_to_config_dict(config_cls):
    """The function behind ``config_cls._dict_to_config_dict`` when it is a staticmethod with the signature
    of :data:`_EXPECTED` (or our own wrapper); else :class:`StartupPatchRefused`, naming the mmengine version,
    what it has and what we expect, so that nothing is replaced blindly."""
    raw = config_cls.__dict__.get('_dict_to_config_dict')
    where = f'mmengine {_mmengine_version()}: mmengine.config.Config._dict_to_config_dict'
    expected = '(cfg, scope=None, has_scope=True)'
    fix = (f'mmlavit replaces it only as it is in mmengine {_CHECKED_RANGE}; the patch is not applied, so '
           "the typed dicts of an mmlavit:: base keep _scope_='mmlavit' (types such as ImageClassifier or "
           'CocoDataset are then not found): install mmengine>=0.8.3,<=0.10.7 or report the new signature to '
           'mmlavit')
    if not isinstance(raw, staticmethod):
        raise StartupPatchRefused(f'{where} is {"missing" if raw is None else type(raw).__name__}, not the '
                                  f'staticmethod {expected} — {fix}')
    original = raw.__func__
    if getattr(original, '_mmlavit', False):
        return original
    import inspect  # mmengine.config has imported it already: free here
    sig = inspect.signature(original)
    have = tuple((p.name, p.kind.name, '<empty>' if p.default is p.empty else p.default)
                 for p in sig.parameters.values())
    if have != _EXPECTED:
        raise StartupPatchRefused(f'{where} has the signature {sig}, not {expected} — {fix}')
    return original


def _stamp_mmlavit_bases_with_their_default_scope(config_mod) -> None:
    """Give the typed dicts of an ``mmlavit::`` base the base config's own ``default_scope`` as ``_scope_``.

    While merging a ``pkg::`` base, mmengine (``Config._file2dict``) passes the base's parsed dict to
    ``Config._dict_to_config_dict(cfg, scope=pkg)``, which stamps ``_scope_=pkg`` on each outermost dict with
    a ``type`` (``model``, each dataset, evaluator, hook, optimizer wrapper, ...) and records ``pkg`` for
    variables read through ``_base_.xxx``. For mmdet/mmseg/mmpretrain the package is also the registry scope
    of their configs. Ours are not: an mmlavit config builds in the scope of the toolbox it extends
    (``default_scope='mmpretrain'`` / ``'mmdet'`` / ``'mmseg'``), so ``_scope_='mmlavit'`` sent
    ``ImageClassifier`` or ``CocoDataset`` to mmlavit's registry, which does not hold them. We stamp the base
    config's ``default_scope`` instead (all our types are registered there too, see
    :mod:`mmlavit.registry`); a base without ``default_scope`` keeps mmengine's ``'mmlavit'``.

    Limits: only the pure-Python (non-``lazy_import``) config style is covered, as all shipped configs are;
    a user config that overrides ``default_scope`` does not change the scope of the dicts it inherits (the
    stamp wins, as it does for any ``pkg::`` base).
    """
    config_cls = config_mod.Config
    original = _checked_dict_to_config_dict(config_cls)
    if getattr(original, '_mmlavit', False):
        return

    def _dict_to_config_dict(cfg, scope=None, has_scope=True):
        # Only the call on a whole mmlavit base config matters: nested calls already carry the new scope.
        if scope == PACKAGE and isinstance(cfg, dict) and isinstance(cfg.get('default_scope'), str):
            scope = cfg['default_scope']
        return original(cfg, scope=scope, has_scope=has_scope)

    _dict_to_config_dict._mmlavit = True
    config_cls._dict_to_config_dict = staticmethod(_dict_to_config_dict)


def format_each_config_once() -> None:
    """Let mmengine format each config text with yapf once per process.

    ``Config.pretty_text`` runs yapf over the whole config each time it is read, and a Runner reads it for
    the log, the dumped config, the message hub and every checkpoint's meta: the same text each time, at
    about half a second each on a small CPU. ``FormatCode`` is a pure function of its arguments, so the
    answers are kept (the last 16 texts); the output is unchanged. Where mmengine no longer uses yapf's
    ``FormatCode`` by that name, nothing is changed.
    """
    import functools

    from mmengine.config import config
    fmt = getattr(config, 'FormatCode', None)
    if fmt is None or getattr(fmt, '_mmlavit', False):
        return

    @functools.lru_cache(maxsize=16)
    def _format(args, kwargs):
        return fmt(*args, **{k: dict(v) if k == 'style_config' and isinstance(v, tuple) else v
                             for k, v in kwargs})

    @functools.wraps(fmt)
    def FormatCode(*args, **kwargs):
        key = tuple(sorted((k, tuple(sorted(v.items())) if isinstance(v, dict) else v)
                           for k, v in kwargs.items()))
        try:
            return _format(args, key)
        except TypeError:  # an unhashable argument: format as mmengine would
            return fmt(*args, **kwargs)

    FormatCode._mmlavit = True
    config.FormatCode = FormatCode


def read_package_metafiles_once() -> None:
    """Let mmengine parse each metafile of a package once per process.

    Each ``'mmdet::...'`` (``mmpretrain::``, ``mmseg::``) base makes mmengine (``_get_cfg_metainfo``) parse
    every metafile the package's ``model-index.yml`` lists (about a hundred YAML files) to find one entry.
    The installed packages do not change while a process runs, so each (package, config) answer, or its
    ``ValueError``, is kept and a copy handed out; and the YAML files that ``_get_cfg_metainfo`` loads
    (through ``mmengine.config.utils.load``, which nothing else in that module calls) are parsed once, so
    that looking up another config of the same package reads none of them again. mmengine's look-up itself
    runs unchanged on the parsed files, which it only reads.
    """
    import copy
    import functools

    from mmengine.config import utils
    read = getattr(utils, '_get_cfg_metainfo', None)
    if read is None or getattr(read, '_mmlavit', False):
        return
    load = getattr(utils, 'load', None)
    if load is not None and not getattr(load, '_mmlavit', False):
        parsed = {}

        @functools.wraps(load)
        def load_once(file, *args, **kwargs):
            if not isinstance(file, str) or args or kwargs:
                return load(file, *args, **kwargs)
            if file not in parsed:
                parsed[file] = load(file)
            return parsed[file]

        load_once._mmlavit = True
        utils.load = load_once
    answers = {}

    @functools.wraps(read)
    def _get_cfg_metainfo(package_path, cfg_path):
        key = (package_path, cfg_path)
        if key not in answers:
            try:
                answers[key] = (read(package_path, cfg_path), None)
            except ValueError as e:
                answers[key] = (None, e.args)
        meta, error = answers[key]
        if error is not None:
            raise ValueError(*error)
        return copy.deepcopy(meta)

    _get_cfg_metainfo._mmlavit = True
    utils._get_cfg_metainfo = _get_cfg_metainfo
    hub = sys.modules.get('mmengine.hub.hub')  # binds it by name
    if hub is not None and getattr(hub, '_get_cfg_metainfo', None) is read:
        hub._get_cfg_metainfo = _get_cfg_metainfo


def look_up_packages_once() -> None:
    """Let mmengine's config parser check once per process that a ``pkg::`` base's package is installed.

    ``Config._get_cfg_path`` calls ``is_installed(pkg)`` for every ``pkg::`` base it resolves, and that
    reloads ``pkg_resources`` each time (about 70 ms, so that a package installed while the process runs is
    seen). A package found once stays installed while the process runs, so a found package is answered from
    memory; one not found is looked up again each time, as before.
    """
    import functools

    from mmengine.config import config
    check = getattr(config, 'is_installed', None)
    if check is None or getattr(check, '_mmlavit', False):
        return
    found = set()

    @functools.wraps(check)
    def is_installed(package):
        if package in found:
            return True
        answer = check(package)
        if answer:
            found.add(package)
        return answer

    is_installed._mmlavit = True
    config.is_installed = is_installed


# module name -> the adjustment applied once it has been loaded
_ADJUST = {
    'mmengine.utils.package_utils': _answer_our_installed_path,
    'mmengine.config.utils': _add_module2package,
    'mmengine.config.config': _stamp_mmlavit_bases_with_their_default_scope,
    'mim.utils.utils': _answer_our_installed_path,
}
# modules that bind ``get_installed_path`` by name (``from ... import``) before :func:`enable_config_scope`
# may run: it rebinds them too
_BINDERS = ('mmengine.utils', 'mmengine.config.config', 'mmengine.hub.hub', 'mim.utils', 'mim.commands.train',
            'mim.commands.test', 'mim.commands.search', 'mim.commands.run')


def _adjust(name: str, module) -> None:
    try:
        _ADJUST[name](module)
    except StartupPatchRefused as e:  # refused on purpose: the message says why and what to do
        import warnings
        warnings.warn(f'mmlavit: {e}')
    except Exception as e:  # never break the import of mmengine or mim
        import warnings
        warnings.warn(f'mmlavit: could not register the mmlavit:: config prefix in {name} ({e!r}); '
                      'import mmlavit before parsing a config that uses it')


class _LazyRegistration:
    """A ``sys.meta_path`` finder that finds nothing itself: for a watched name it asks the finders behind it,
    and makes the found loader apply the adjustment after executing the module."""

    def __init__(self):
        self.pending = set(_ADJUST)

    def find_spec(self, name, path=None, target=None):
        if name not in self.pending:
            return None
        self.pending.discard(name)
        if not self.pending and self in sys.meta_path:
            sys.meta_path.remove(self)
        for finder in [f for f in sys.meta_path if f is not self]:
            find = getattr(finder, 'find_spec', None)
            spec = find(name, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, 'exec_module', None)
        if exec_module is None or not hasattr(loader, '__dict__') or isinstance(loader, type):
            return spec  # not a per-module loader instance (never so for these pure-Python modules)

        def exec_then_adjust(module):
            try:
                exec_module(module)
            finally:
                vars(loader).pop('exec_module', None)  # back to the class's method
            _adjust(name, module)

        loader.exec_module = exec_then_adjust
        return spec


def install() -> None:
    """Called by ``mmlavit-startup.pth``: adjust the watched modules already imported, watch the others."""
    if any(isinstance(f, _LazyRegistration) for f in sys.meta_path):
        return
    finder = _LazyRegistration()
    for name in list(finder.pending):
        if name in sys.modules:
            finder.pending.discard(name)
            _adjust(name, sys.modules[name])
    if finder.pending:
        sys.meta_path.insert(0, finder)


def enable_config_scope() -> None:
    """Apply every adjustment now to the watched modules that are imported (``import mmlavit`` calls it
    after importing mmengine's config), and rebind ``get_installed_path`` where it was imported by name."""
    for name in _ADJUST:
        if name in sys.modules:
            _adjust(name, sys.modules[name])
    for binder in _BINDERS:
        module = sys.modules.get(binder)
        if module is not None and hasattr(module, 'get_installed_path'):
            _answer_our_installed_path(module)
