"""Fail fast, before the Runner touches the work dir, when a checkpoint the config loads is missing, cut off
(``--resume``) or of another architecture (``load_from`` / ``init_cfg``); the dataset checks are in
:mod:`.data_check`. The key comparison is :func:`mmlavit.utils.checkpoint.state_dict_fit`, shared with the
distiller's teacher-checkpoint check."""
import os
import os.path as osp
import re
import zipfile
from typing import Optional

from mmengine.config import Config

from mmlavit.utils.checkpoint import checkpoint_state_dict, state_dict_fit

from .errors import InputCheckError


class CheckpointError(InputCheckError):
    """A checkpoint the config loads cannot be used: the one ``--resume`` would load is unreadable (e.g.
    truncated by a kill while saving)."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """A local checkpoint named by the config (``init_cfg`` ``Pretrained``, the distiller's teacher) does not
    exist."""


class CheckpointMismatchError(CheckpointError, ValueError):
    """A ``load_from`` / ``init_cfg`` checkpoint does not fit the model of the config."""


def _pretrained(node, path='model'):
    """Yield (config key, checkpoint) of every ``init_cfg=dict(type='Pretrained', checkpoint=...)``."""
    for key, module_cfg in _pretrained_nodes(node, path):
        init = module_cfg['init_cfg']
        for item in (init if isinstance(init, list) else [init]):
            if isinstance(item, dict) and item.get('type') == 'Pretrained' and item.get('checkpoint'):
                yield f'{key}.init_cfg', item['checkpoint']


def check_pretrained_paths(cfg: Config, config_path: str = '<config>') -> None:
    """Raise :class:`CheckpointNotFoundError` when a local ``Pretrained`` checkpoint of the model, or the
    distiller's teacher checkpoint, is missing (remote URLs and ``open-mmlab://``-style names are left to
    mmengine)."""
    for key, ckpt in _pretrained(cfg.get('model')):
        if '://' in ckpt or osp.exists(ckpt):
            continue
        hint = cfg.get('pretrain_config')
        raise CheckpointNotFoundError(
            f'{config_path}: {key} loads "{ckpt}", which does not exist. '
            + (f'Train it first with `python tools/train.py {hint}`, ' if hint else 'Point it at your '
                                                                                    'checkpoint, ')
            + f'or train from scratch with --cfg-options {key}=None.')
    teacher = (cfg.get('model') or {}).get('teacher')
    if isinstance(teacher, dict) and teacher.get('checkpoint'):
        ckpt = teacher['checkpoint']
        if '://' not in ckpt and not osp.exists(ckpt):
            how = (f'python tools/train.py {teacher["config"]}' if teacher.get('config')
                   else 'the teacher\'s config')
            raise CheckpointNotFoundError(
                f'{config_path}: the distiller\'s teacher checkpoint "{ckpt}" does not exist. Train the '
                'teacher '
                f'first with `{how}` (see the config\'s header), or point model.teacher.checkpoint at '
                'it.')


def _ckpt_step(path: str) -> int:
    m = re.search(r'(\d+)\.pth$', osp.basename(path))
    return int(m.group(1)) if m else -1


def checkpoint_readable(path: str) -> Optional[str]:
    """None if ``path`` looks like a complete ``torch.save`` file, else what is wrong. Cheap: reads the zip
    directory at the end of the file (a file cut off while being written has none), not the tensors."""
    if not osp.isfile(path):
        return 'the file does not exist'
    if osp.getsize(path) == 0:
        return 'the file is empty'
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                if not any(n.endswith('data.pkl') for n in z.namelist()):
                    return 'the zip archive holds no data.pkl (not a torch checkpoint)'
        except (zipfile.BadZipFile, OSError) as e:
            return f'unreadable zip archive ({e})'
        return None
    with open(path, 'rb') as f:
        magic = f.read(4)
    if magic.startswith(b'PK'):
        return f'the zip archive is incomplete ({osp.getsize(path)} bytes; cut off while being written?)'
    return None  # a legacy (pre-1.6) torch.save pickle: left to torch.load


def check_resume_checkpoint(cfg: Config) -> None:
    """With ``cfg.resume``, raise :class:`CheckpointError` when the checkpoint to resume from (``load_from``,
    else the one ``work_dir/last_checkpoint`` names, as mmengine finds it) is missing or truncated, naming the
    newest readable checkpoint left in the work dir to resume from instead."""
    if not cfg.get('resume'):
        return
    work_dir = cfg.get('work_dir') or ''
    path, source = cfg.get('load_from'), '--resume'
    if not path:
        pointer = osp.join(work_dir, 'last_checkpoint')
        if not osp.isfile(pointer):
            return  # nothing to resume: mmengine starts from scratch
        with open(pointer) as f:
            path, source = f.read().strip(), pointer
    if not path or '://' in path:
        return
    problem = checkpoint_readable(path)
    if problem is None:
        return
    others = sorted((p for p in (osp.join(work_dir, f) for f in os.listdir(work_dir) if f.endswith('.pth'))
                     if osp.abspath(p) != osp.abspath(path) and checkpoint_readable(p) is None),
                    key=lambda p: (_ckpt_step(p), osp.getmtime(p))) if osp.isdir(work_dir) else []
    if others:
        fix = (f'The previous good checkpoint is {others[-1]}: resume from it with --resume {others[-1]} '
               '(and delete the broken file).')
    else:
        fix = (f'No other readable checkpoint is left in {work_dir} (max_keep_ckpts removes older ones '
               'before '
               'writing a new one): train again without --resume.')
    raise CheckpointError(f'cannot resume from {path} (named by {source}): {problem}. {fix}')


# Ours: a checkpoint that fills less than this share of a module's tensors (missing keys or other shapes) is
# taken for another architecture and refused; above it, what does not fit is only warned about (fine-tuning
# with a new head is legitimate), as mmengine does, but with the key names and both files.
MIN_FIT = 0.5


def check_checkpoint_fits(cfg: Config, config_path: str = '<config>') -> None:
    """Compare the local checkpoints a fresh run loads — ``load_from`` (not with ``--resume``) and every
    ``init_cfg=dict(type='Pretrained')`` of a submodule — with the module the config builds. Raises
    :class:`CheckpointMismatchError` naming the checkpoint, the config and example keys when the checkpoint
    fills less than ``MIN_FIT`` of the module's tensors (another architecture); warns with the same details
    when only some keys are missing, unexpected or of another shape (mmengine loads the rest).

    Costs one extra model build and checkpoint read before training, only when such a checkpoint is set."""
    import logging

    from mmengine.logging import print_log
    from mmengine.registry import DefaultScope

    from mmlavit.registry import build_model  # the default scope's registry, else mmlavit's
    model_cfg = cfg.get('model')
    jobs = []  # (what, checkpoint, module config, prefix)
    load_from = cfg.get('load_from')
    if load_from and not cfg.get('resume') and '://' not in load_from and osp.isfile(load_from):
        jobs.append(('load_from', load_from, model_cfg, None))
    for key, node in _pretrained_nodes(model_cfg):
        init = node['init_cfg']
        for item in (init if isinstance(init, list) else [init]):
            pretrained = isinstance(item, dict) and item.get('type') == 'Pretrained'
            ck = item.get('checkpoint') if pretrained else None
            if ck and '://' not in ck and osp.isfile(ck):
                jobs.append((f'{key}.init_cfg', ck, node, item.get('prefix')))
    if not jobs:
        return
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        for what, ckpt, node, prefix in jobs:
            try:
                module = build_model(dict(node, init_cfg=None) if 'init_cfg' in node else node)
            except Exception as e:  # noqa: BLE001 - not buildable here (e.g. a distiller's teacher): skip
                print_log(f'{config_path}: could not build {what}\'s module to check {ckpt} ({e}); skipped',
                          logger='current', level=logging.DEBUG)
                continue
            module_sd = module.state_dict()
            ckpt_sd = checkpoint_state_dict(ckpt, prefix)
            fit = state_dict_fit(module_sd, ckpt_sd)
            if fit.exact:
                continue
            detail = fit.describe(module_sd, ckpt_sd)
            where = f'{what} = {ckpt}' + (f' (prefix "{prefix}")' if prefix else '')
            if fit.fit < MIN_FIT:
                raise CheckpointMismatchError(
                    f'{config_path}: {where} fills only {fit.fit:.0%} of the {len(module_sd)} tensors of the '
                    'model '
                    f'that {config_path} builds — a checkpoint of another architecture? {detail}. Use a '
                    f'checkpoint trained with a matching config, or drop it with --cfg-options {what}=None.')
            print_log(f'{config_path}: {where} does not fit the model exactly ({fit.fit:.0%} of its tensors '
                      'load); '
                      f'{detail}.', logger='current', level=logging.WARNING)


def _pretrained_nodes(node, path='model'):
    """Yield (config key, module config) of every submodule config with a ``Pretrained`` init_cfg."""
    if isinstance(node, dict):
        init = node.get('init_cfg')
        if any(isinstance(i, dict) and i.get('type') == 'Pretrained'
               for i in (init if isinstance(init, list) else [init])):
            yield path, node
        for k, v in node.items():
            if k not in ('init_cfg', 'teacher'):  # a teacher's weights come from its own checkpoint
                yield from _pretrained_nodes(v, f'{path}.{k}')
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _pretrained_nodes(v, f'{path}[{i}]')
