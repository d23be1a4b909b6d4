"""The layer under ``tools/``: config loading, input checks before training, and each upstream tool's flag
semantics. It builds on the models and datasets; ``mmlavit.utils`` below it holds only environment set-up
and the distributed start."""
from .config import load_config
from .data_check import DatasetNotFoundError, check_dataset_paths, check_inputs, check_pretrained_paths

__all__ = ['DatasetNotFoundError', 'check_dataset_paths', 'check_inputs', 'check_pretrained_paths',
           'load_config']
