"""Several 2-process training runs in one ``torchrun`` launch (``test_ddp_equality.py``); not a test module.

    python -m torch.distributed.run --nproc_per_node=2 tests/tools/ddp_cases.py CASES.json

``CASES.json`` is a list of ``tools/train.py`` argument lists (``--launcher pytorch`` among them), or of
``{"argv": [...], "raises": "DivergenceError"}`` for a run that must raise that exception on every rank (each
rank prints it as ``[rank<R>]: <module>.<class>: <message>``, as torchrun reports an uncaught one, then meets
the other at a barrier: neither is left in a collective of the stopped run). Each rank runs every case
through ``tools/train.py``'s own ``main``. The first run starts the gloo process group and the
last one ends it: ``main``'s ``shutdown_dist`` is held back until then, because a gloo group started again
after ``destroy_process_group`` under the same torchrun store hangs (its rendezvous keys are the first
group's). Between runs mmengine's global instances (loggers, visualizers, message hubs, default scopes) are
cleared, as a fresh process has none. One launch pays the interpreter start-up and imports once instead of
once per case."""
import gc
import importlib.util
import json
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _clear_global_instances():
    from mmengine.utils import ManagerMixin
    todo = [ManagerMixin]
    while todo:
        cls = todo.pop()
        cls._instance_dict.clear()
        todo.extend(cls.__subclasses__())


def main() -> int:
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    spec = importlib.util.spec_from_file_location('mmlavit_tools_train', osp.join(ROOT, 'tools', 'train.py'))
    train = importlib.util.module_from_spec(spec)  # the script as a module, not run as __main__
    spec.loader.exec_module(train)
    shutdown, train.shutdown_dist = train.shutdown_dist, lambda: None  # main looks it up at call time
    # the imported modules out of later garbage collections, as conftest.py does for the test workers
    # (mmengine's BaseDataset calls gc.collect() per dataset)
    gc.collect()
    gc.freeze()
    rank = os.environ.get('RANK')
    try:
        for case in cases:
            argv, raises = (case['argv'], case['raises']) if isinstance(case, dict) else (case, None)
            _clear_global_instances()
            try:
                code = train.main(argv)
            except Exception as e:
                if type(e).__name__ != raises:
                    raise
                name = f'{type(e).__module__}.{type(e).__name__}'
                print(f'[rank{rank}]: {name}: {e}', file=sys.stderr, flush=True)
                import torch.distributed as dist
                dist.barrier()
                continue
            if raises is not None:
                print(f'ddp_cases: rank {rank}: {argv[0]} did not raise {raises}', file=sys.stderr)
                return 1
            if code:
                print(f'ddp_cases: rank {rank}: {argv[0]} returned {code}', file=sys.stderr)
                return code
    finally:
        shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
