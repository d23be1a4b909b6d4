"""Data parallel = one process: ``tools/dist_train.sh`` with 2 gloo processes and ``tools/train.py`` with 1
make the same step on the same global batch, for MAML and GP-MAML meta-training (the meta-batch split across
the processes) and for a distilled classifier and a distilled detector (KD and a feature loss through a
learned connector; docs/distributed.md). The same launch also runs a training that diverges: every rank
stops at the same iteration (DivergenceGuardHook).

The 1-process run is tools/train.py in the test's process (the ``tool`` fixture: one interpreter start-up
less). The 2-process runs of all five cases share one ``torchrun`` launch
(``ddp_cases.py``): each rank calls the same ``main`` once per case, which starts and ends that run's gloo
group as ``python tools/train.py --launcher pytorch`` under ``tools/dist_train.sh`` does (the script itself is
what ``test_train_test.py::test_dist_train_two_processes_gloo`` starts); a launch per case would pay the two
ranks' start-up for each.

Each case trains one iteration from the same seed on a config that is the shipped one with only these
changes (a child config in tmp): SGD instead of Adam — Adam's first step is ``lr·g/(|g|+ε)`` per element,
which turns float-level differences of near-zero gradients into O(lr) parameter differences, so it would
test the optimiser, not the data-parallel gradient —; no validation; no random augmentation (OpenMMLab draws
augmentations from each process's RNG stream, so the same sample is augmented differently in a 1-process
and a 2-process run); the sampler in order, so that the two processes' halves of the global batch are the
1-process batch. The distillation cases use a global batch ``[a, b, b, a]``: each process gets ``{a, b}``,
so the student's batch-norm statistics and mmdet's per-process loss normaliser (RetinaNet divides by the
process's positive anchors) equal the 1-process ones; what may still differ per process is ours to
guarantee (the frozen teacher outside DDP's reduction, recorders, loss routing, progress). The few-shot
models normalise per task, so their processes get different tasks.

Tolerance: ``TOL`` = 1e-6 on the largest absolute parameter difference after one SGD step (lr 0.1). The 2
processes sum the gradient in another order (each its half, then gloo's all-reduce and / 2) than one
process does; float32 rounds each sum to ~6e-8 relative, so the step ``lr·g`` (up to ~0.5 for MAML) differs
by ~1e-7 at most — measured 6e-8 (MAML, GP-MAML), below 1e-8 (distillation); 1e-6 leaves a 10x margin and
is far below a real difference (4 distinct digits, 2 per process, so per-process batch-norm statistics:
1.5e-4 with a step of 6e-3).
"""
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

import mmlavit  # noqa: F401  (safe globals for torch.load)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOL = 1e-6
LOADER = 'num_workers=0, persistent_workers=False, sampler=dict(shuffle=False), '
HOOKS = 'default_hooks = dict(checkpoint=dict(interval=1, save_best=None), logger=dict(interval=1))\n'
BN_STATS = ('running_mean', 'running_var', 'num_batches_tracked')


def _port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def _child(tmp, base, body):
    path = tmp / 'cfg.py'
    path.write_text(f'_base_ = [{osp.join(ROOT, base)!r}]\n'
                    "optim_wrapper = dict(_delete_=True, type='OptimWrapper',\n"
                    "                     optimizer=dict(type='SGD', lr=0.1))\n"
                    'val_dataloader = None\nval_cfg = None\nval_evaluator = None\n'
                    'randomness = dict(seed=0)\n' + body)
    return str(path)


def _log_text(wd):
    logs = [osp.join(r, f) for r, _, fs in os.walk(wd) for f in fs if f.endswith('.log')]
    assert len(logs) == 1, logs
    with open(logs[0]) as f:
        return f.read()


def _state_dict(wd):
    ck = [f for f in os.listdir(wd) if f in ('iter_1.pth', 'epoch_1.pth')]
    assert ck, os.listdir(wd)
    return torch.load(osp.join(wd, ck[0]), map_location='cpu')['state_dict']


def _train_one_process(tool, cfg, wd, opts):
    """``tools/train.py`` in the test's process (conftest's ``run_tool_in_process``: 1 torch thread, as each
    of the 2 processes has with OMP_NUM_THREADS=1, so the same reduction order)."""
    res = tool(['tools/train.py', cfg, '--work-dir', wd, '--cfg-options', *opts])
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert not torch.distributed.is_initialized()
    assert 'Distributed training: False' in _log_text(wd)
    return _state_dict(wd)


def _train_two_processes(cases, tmp):
    """Every case's ``tools/train.py`` arguments, run by 2 gloo processes in one launch (ddp_cases.py)."""
    import json
    path = tmp / 'cases.json'
    path.write_text(json.dumps(cases))
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1',
               PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get('PYTHONPATH')) if p))
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nnodes=1', '--node_rank=0',
           '--master_addr=127.0.0.1', '--nproc_per_node=2', f'--master_port={_port()}',
           osp.join(ROOT, 'tests', 'tools', 'ddp_cases.py'), str(path)]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    return out


def _diffs(one, two):
    """Largest |Δ| over the parameters, and over BN running statistics (kept per process: not compared)."""
    assert one.keys() == two.keys()
    p = max((one[k] - two[k]).abs().max().item() for k in one
            if one[k].is_floating_point() and not k.endswith(BN_STATS))
    return p


def _init_checkpoint(cfg, path):
    """The parameters both runs start from (``load_from``): the model built from the config and
    initialised, saved once, so that the comparison does not rest on two runs drawing the same init."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    c = Config.fromfile(cfg)
    model_cfg = dict(c.model)
    if c.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', c.data_preprocessor)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope(c.default_scope):
        m = MODELS.build(model_cfg)
    m.init_weights()
    torch.save(dict(state_dict=m.state_dict(), meta=dict()), path)
    return {k: v.clone() for k, v in m.state_dict().items()}


def _compare(run, tool):
    """The case's 1-process run (``batch``) in this process against its 2-process run (``batch // 2`` each),
    both from the same init; returns the two state dicts after the first step, the initial one and the
    largest parameter difference (asserted <= TOL)."""
    one = _train_one_process(tool, run['cfg'], str(run['dir'] / 'one'),
                             run['opts'] + [f'train_dataloader.batch_size={run["batch"]}'])
    two = run['two']
    d = _diffs(one, two)
    moved = _diffs(one, {k: run['init'][k] for k in one})
    print(f'{osp.basename(run["cfg"])}: max |param(1 process) - param(2 processes)| = {d:.3g}; '
          f'the step moved parameters by up to {moved:.3g}')
    assert moved > 10 * TOL  # the step did something
    assert d <= TOL, f'2 processes differ from 1 by {d:.3g} (tolerance {TOL})'
    return one, two, run['init'], d


def _teacher_checkpoint(config, path):
    """An initialised teacher checkpoint (random weights are enough to exercise the distiller)."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    c = Config.fromfile(osp.join(ROOT, config))
    torch.manual_seed(1)
    with DefaultScope.overwrite_default_scope(c.default_scope):
        model_cfg = dict(c.model)
        model_cfg.pop('init_cfg', None)
        if isinstance(model_cfg.get('backbone'), dict):
            model_cfg['backbone'] = dict(model_cfg['backbone'], init_cfg=None)
        m = MODELS.build(model_cfg)
    m.init_weights()
    torch.save(dict(state_dict=m.state_dict(), meta=dict()), path)
    return str(path)


def _no_random_aug(config, types):
    from mmengine.config import Config
    pipe = Config.fromfile(osp.join(ROOT, config)).train_dataloader.dataset.pipeline
    return [dict(t) for t in pipe if t['type'] not in types]


def _meta(method, tmp, roots):
    """MAML / GP-MAML: the global meta-batch of tasks 0-3 (rank 0: 0, 2; rank 1: 1, 3)."""
    root = roots['fewshot']
    cfg = _child(tmp, f'configs/fewshot/{method}_conv4_synth-fewshot-5way-1shot.py',
                 'train_dataloader = dict(sampler=dict(shuffle=False), '
                 f'dataset=dict(data_root={root!r}))\n'
                 f'test_dataloader = dict(dataset=dict(data_root={root!r}))\n'
                 "train_cfg = dict(max_iters=1, val_interval=1000)\n" + HOOKS)
    return cfg, 4, []


def _distilled_classifier(tmp, roots):
    from mmlavit.datasets.synthetic import make_digits
    root = str(tmp / 'digits')
    make_digits(root, val_fraction=0.8)
    base = 'configs/distill/kd/kd_resnet32-resnet8x0.5_digits.py'
    teacher = _teacher_checkpoint('configs/distill/baselines/resnet32_digits.py', tmp / 'teacher.pth')
    pipe = _no_random_aug(base, ('RandomCrop', 'RandomFlip'))
    cfg = _child(tmp, base,
                 f'model = dict(teacher=dict(checkpoint={teacher!r}))\n'
                 'train_dataloader = dict(' + LOADER +
                 f'dataset=dict(data_root={root!r}, pipeline={pipe!r}, indices=[0, 1, 1, 0]))\n'
                 f'test_dataloader = dict(dataset=dict(data_root={root!r}))\n'
                 'train_cfg = dict(max_epochs=1, val_interval=1000)\n' + HOOKS)
    return cfg, 4, []


def _distilled_detector(tmp, roots):
    base = 'configs/distill/trg/trg_retinanet_lavit-t-r18_synth-coco.py'
    teacher = _teacher_checkpoint('configs/lavit/retinanet_lavit-t_fpn_synth-coco.py', tmp / 'teacher.pth')
    pipe = _no_random_aug(base, ('RandomFlip',))
    for t in pipe:  # 128x96, half the shipped scale: the equality does not depend on it, the step's time does
        if t['type'] == 'Resize':
            t['scale'] = (128, 96)
    # KD on the dense class logits, and a FitNet feature loss through an explicit connector: the student's
    # stride-16 backbone map (256 channels) mapped to the teacher's (320) by a learned 1x1 ChannelAdapter +
    # BN, trained with the student. TRG's graph and InfoNCE are over the tokens of each process's batch
    # (defined per process, as any batch-level loss), so it is left out here
    fitnet = ("loss_fitnet=dict(student=dict(recorder='feat', item=1, connector=dict(type='ChannelAdapter', "
              "in_channels=256, out_channels=320, norm_cfg=dict(type='BN'))), "
              "teacher=dict(recorder='feat', item=1))")
    cfg = _child(tmp, base,
                 f'model = dict(teacher=dict(checkpoint={teacher!r}), '
                 "losses=dict(_delete_=True, loss_kd=dict(type='KDLoss', temperature=2.0, loss_weight=1.0), "
                 "loss_fitnet=dict(type='FeatureMSELoss', loss_weight=1.0)), "
                 "loss_inputs=dict(_delete_=True, loss_kd=dict(student=_base_.cls_logits, "
                 f"teacher=_base_.cls_logits), {fitnet}))\n"
                 'train_dataloader = dict(' + LOADER +
                 f'dataset=dict(data_root={roots["coco"]!r}, pipeline={pipe!r}, indices=[0, 1, 1, 0]))\n'
                 f'test_dataloader = dict(dataset=dict(data_root={roots["coco"]!r}))\n'
                 'train_cfg = dict(max_epochs=1, val_interval=1000)\n' + HOOKS)
    # the 2 processes train a second step: DDP (find_unused_parameters=False) raises there if a parameter of
    # the student or a connector got no gradient in the first one; the comparison is after the first step
    return cfg, 4, ['train_cfg.max_epochs=2', 'default_hooks.checkpoint.max_keep_ckpts=2']


# A run that diverges under DDP (tests/engine/test_divergence.py has the 1-process runs): the LR times 1e30
# after the first epoch (32 images, 2 processes x batch 4: 4 iterations an epoch), so the epoch-1 checkpoint
# is good and the run diverges in epoch 2
BLOW_UP = "param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[1], gamma=1e30)]\n"


def _diverging(tmp, cls_root):
    cfg = tmp / 'diverge.py'
    cfg.write_text(f"_base_ = '{osp.join(ROOT, 'configs', 'lavit', 'lavit-t_synth-cls.py')}'\n" + BLOW_UP)
    opts = [f'{split}_dataloader.{k}' for split in ('train', 'val', 'test')
            for k in (f'dataset.data_root={cls_root}', 'batch_size=4', 'num_workers=0',
                      'persistent_workers=False')]
    opts += ['model.head.num_classes=4', 'data_preprocessor.num_classes=4', 'train_cfg.max_epochs=3',
             'train_cfg.val_interval=10', 'default_hooks.checkpoint.interval=1',
             'default_hooks.checkpoint.max_keep_ckpts=1']
    return [str(cfg), '--launcher', 'pytorch', '--work-dir', str(tmp / 'wd'), '--cfg-options', *opts]


CASES = {'maml': lambda tmp, roots: _meta('maml', tmp, roots),
         'gp-maml': lambda tmp, roots: _meta('gp-maml', tmp, roots),
         'distilled classifier': _distilled_classifier,
         'distilled detector': _distilled_detector}


@pytest.fixture(scope='module')
def runs(tmp_path_factory, coco_root, cls_root):
    """Every case's config, initial weights and 2-process result (one launch for all, ddp_cases.py):
    ``{case: dict(cfg, dir, init, opts, batch, two, log)}``, the 1-process runs being the tests'; and, last in
    the launch, the diverging run: ``'diverged': dict(dir, out)`` (its work dir, the launch's output)."""
    from mmlavit.datasets.synthetic import make_fewshot
    tmp = tmp_path_factory.mktemp('ddp')
    roots = dict(fewshot=str(tmp / 'fewshot'), coco=coco_root)
    make_fewshot(roots['fewshot'], num_classes=(6, 5, 5), per_class=16, img_size=32, seed=0)
    out, argvs = {}, []
    for i, (name, prepare) in enumerate(CASES.items()):
        d = tmp / f'case{i}'
        d.mkdir()
        cfg, batch, two_opts = prepare(d, roots)
        init = _init_checkpoint(cfg, d / 'init.pth')
        opts = [f'load_from={d / "init.pth"}']
        out[name] = dict(cfg=cfg, dir=d, init=init, opts=opts, batch=batch)
        argvs.append([cfg, '--launcher', 'pytorch', '--work-dir', str(d / 'two'), '--cfg-options', *opts,
                      f'train_dataloader.batch_size={batch // 2}', *two_opts])
    diverge = tmp / 'diverge'
    diverge.mkdir()
    argvs.append(dict(argv=_diverging(diverge, cls_root), raises='DivergenceError'))
    launch = _train_two_processes(argvs, tmp)
    for run in out.values():
        run['log'] = _log_text(run['dir'] / 'two')
        assert 'Distributed training: True' in run['log']
        run['two'] = _state_dict(run['dir'] / 'two')
    out['diverged'] = dict(dir=diverge / 'wd', out=launch)
    return out


@pytest.mark.parametrize('method', ['maml', 'gp-maml'])
def test_meta_training_step_two_processes_equals_one(method, runs, tool):
    _compare(runs[method], tool)


def test_distilled_classifier_step_two_processes_equals_one(runs, tool):
    one, _, _, _ = _compare(runs['distilled classifier'], tool)
    assert not any(k.startswith('teacher.') for k in one)  # the teacher is not saved (nor trained)


def test_distilled_detector_step_two_processes_equals_one(runs, tool):
    run = runs['distilled detector']
    one, two, init, _ = _compare(run, tool)
    assert osp.isfile(run['dir'] / 'two' / 'epoch_2.pth')
    adapter = [k for k in one if k.startswith('connectors.loss_fitnet.') and not k.endswith(BN_STATS)]
    assert adapter and not any(k.startswith('teacher.') for k in one)  # the connector saved, not the teacher
    step = max((one[k] - init[k]).abs().max().item() for k in adapter)
    gap = max((one[k] - two[k]).abs().max().item() for k in adapter)
    print(f'connector: moved by up to {step:.3g}, 2 processes differ from 1 by {gap:.3g}')
    assert step > 10 * TOL and gap <= TOL


def test_every_rank_stops_on_divergence(runs):
    """Under DDP both ranks raise at the same iteration (DivergenceGuardHook all-reduces its flag), neither
    is left in a collective of the stopped run (they meet at a barrier after it), the good checkpoint
    stays."""
    import re
    out, wd = runs['diverged']['out'], runs['diverged']['dir']
    raised = re.findall(r'\[rank(\d)\]: mmlavit\.engine\.divergence\.DivergenceError: (Training diverged '
                        r'at iteration \d+ \(epoch \d+, iteration \d+ of \d+\))', out)
    assert sorted(rank for rank, _ in raised) == ['0', '1'], out[-3000:]  # both ranks raised...
    assert len({where for _, where in raised}) == 1  # ...at the same iteration
    assert '(epoch 2, iteration' in raised[0][1]
    assert sorted(p.name for p in wd.glob('*.pth')) == ['epoch_1.pth']
    assert 'Distributed training: True' in _log_text(wd)
