from .cli import load_config
from .data_check import DatasetNotFoundError, check_dataset_paths, check_inputs, check_pretrained_paths
from .dist import init_cpu_dist_if_needed, shutdown_dist
from .setup_env import setup_mmlavit_env

__all__ = [
    'DatasetNotFoundError', 'check_dataset_paths', 'check_inputs', 'check_pretrained_paths',
    'init_cpu_dist_if_needed', 'load_config', 'setup_mmlavit_env', 'shutdown_dist'
]
