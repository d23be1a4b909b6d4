"""Distributed set-up helpers for the tools."""
import os

import torch
import torch.distributed as torch_dist


def init_cpu_dist_if_needed(launcher: str, cfg) -> bool:
    """Start the process group with gloo when launched by torchrun/slurm on a machine without CUDA.

    Also sets ``cfg.model_wrapper_cfg`` so that DDP wraps a CPU module (``device_ids=None``), also where the
    caller started the group already (several runs in one launch).

    mmengine 0.10.7's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally for the pytorch
    launcher, which fails where no GPU is present. On such a machine we initialise the default process
    group ourselves (the Runner then finds it initialised and skips its own ``init_dist``), with the
    ``gloo`` backend and the config's ``env_cfg.dist_cfg`` timeout. Returns True if we initialised it.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    started = not torch_dist.is_initialized()
    if started:
        _init_gloo(launcher, cfg)
    if isinstance(cfg.get('env_cfg'), dict) and 'dist_cfg' in cfg.env_cfg:
        cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    # mmengine passes device_ids=[LOCAL_RANK] to DDP, which is only valid for GPU modules: on CPU, DDP
    # must get device_ids=None (a value in the config wins over the Runner's default).
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    return started


def _init_gloo(launcher: str, cfg) -> None:
    """The default process group on gloo, with the config's ``env_cfg.dist_cfg`` timeout."""
    if launcher == 'slurm' and 'RANK' not in os.environ:
        # map slurm variables as mmengine's _init_dist_slurm does
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ.setdefault('LOCAL_RANK', os.environ.get('SLURM_LOCALID', '0'))
        os.environ.setdefault('MASTER_PORT', '29500')
        os.environ.setdefault('MASTER_ADDR', os.environ.get('SLURM_LAUNCH_NODE_IPADDR', '127.0.0.1'))
    dist_cfg = dict((cfg.get('env_cfg') or {}).get('dist_cfg') or {})
    kwargs = {}
    if 'timeout' in dist_cfg:
        import datetime
        kwargs['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
    torch_dist.init_process_group(backend='gloo', **kwargs)


def shutdown_dist() -> None:
    """Wait for every rank, then destroy the default process group (if any) before the interpreter exits.

    Without this, gloo's threads were still running at exit, and a 2-process run on a loaded machine
    once ended in "terminate called without an active exception" (SIGABRT) after training had finished."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
