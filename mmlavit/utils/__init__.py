"""The bottom layer: process-wide environment set-up, the distributed start, and comparing a checkpoint with a
model (no models, no tools)."""
from .checkpoint import StateDictFit, checkpoint_state_dict, state_dict_fit
from .dist import init_cpu_dist_if_needed, shutdown_dist
from .setup_env import setup_mmlavit_env

__all__ = ['StateDictFit', 'checkpoint_state_dict', 'init_cpu_dist_if_needed', 'setup_mmlavit_env',
           'shutdown_dist', 'state_dict_fit']
