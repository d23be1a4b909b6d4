"""RandomStateHook: what it writes into a checkpoint and what a resumed run gets back (the end-to-end
SIGKILL/--resume equality is in tests/tools/test_reliability.py)."""
import random
from functools import partial
from types import SimpleNamespace

import numpy as np
import torch
from mmengine.dataset import DefaultSampler
from mmengine.dataset.utils import worker_init_fn
from mmengine.logging import MMLogger

from mmlavit.engine.random_state import RandomStateHook, capture_rng_state, restore_rng_state


def _draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_capture_restore_round_trip_is_exact():
    state = capture_rng_state()
    first = [_draws() for _ in range(3)]
    restore_rng_state(state)
    assert [_draws() for _ in range(3)] == first


def _runner(sampler_seed, worker_seed, resume=True):
    loader = SimpleNamespace(sampler=DefaultSampler(list(range(8)), seed=sampler_seed), num_workers=2,
                             persistent_workers=False,
                             worker_init_fn=partial(worker_init_fn, num_workers=2, rank=0, seed=worker_seed))
    return SimpleNamespace(train_dataloader=loader, train_loop=SimpleNamespace(), iter=8, _resume=resume,
                           cfg=dict(resume=resume), logger=MMLogger.get_current_instance())


def test_resume_gets_the_generators_and_the_loader_seeds_back():
    hook, runner = RandomStateHook(), _runner(sampler_seed=123, worker_seed=123)
    ckpt = {}
    hook.before_save_checkpoint(runner, ckpt)
    state = ckpt['rng_state']
    assert (state['sampler_seed'], state['worker_seed']) == (123, 123)
    after_save = [_draws() for _ in range(2)]  # what the uninterrupted run draws in the next epoch
    # ...but validation draws in between: the state is re-applied at the next epoch start
    _draws()
    hook.before_train_epoch(runner)
    assert [_draws() for _ in range(2)] == after_save

    # a resumed process: seed=None gave the sampler and workers new seeds, the generators are fresh
    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    resumed, new = RandomStateHook(), _runner(sampler_seed=999, worker_seed=999)
    resumed.after_load_checkpoint(new, ckpt)
    assert new.train_dataloader.sampler.seed == 123
    assert new.train_dataloader.worker_init_fn.keywords == dict(num_workers=2, rank=0, seed=123)
    resumed.before_train(new)
    resumed.before_train_epoch(new)
    assert [_draws() for _ in range(2)] == after_save
    resumed.before_train_epoch(new)  # applied once only
    assert [_draws() for _ in range(2)] != after_save


def test_load_from_is_not_a_resume():
    hook, runner = RandomStateHook(), _runner(sampler_seed=5, worker_seed=5, resume=False)
    ckpt = {}
    RandomStateHook().before_save_checkpoint(_runner(7, 7), ckpt)
    hook.after_load_checkpoint(runner, ckpt)
    assert runner.train_dataloader.sampler.seed == 5 and hook._pending is None
