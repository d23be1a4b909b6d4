from .data_check import DatasetNotFoundError, check_dataset_paths
from .setup_env import setup_mmlavit_env

__all__ = ['DatasetNotFoundError', 'check_dataset_paths', 'setup_mmlavit_env']
