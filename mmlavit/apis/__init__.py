"""The layer under ``tools/``: config loading, input checks before training (datasets: :mod:`.data_check`,
checkpoints: :mod:`.checkpoint_check`, both raising an :class:`InputCheckError`), and each upstream tool's
flag semantics. It builds on the models and datasets; ``mmlavit.utils`` below it holds the environment
set-up, the distributed start and the checkpoint/model key comparison."""
from .checkpoint_check import (CheckpointError, CheckpointMismatchError, CheckpointNotFoundError,
                               check_checkpoint_fits, check_pretrained_paths, check_resume_checkpoint)
from .config import load_config
from .data_check import DataFormatError, DatasetNotFoundError, check_dataset_paths, check_inputs
from .errors import InputCheckError

__all__ = ['CheckpointError', 'CheckpointMismatchError', 'CheckpointNotFoundError', 'DataFormatError',
           'DatasetNotFoundError', 'InputCheckError', 'check_checkpoint_fits', 'check_dataset_paths',
           'check_inputs', 'check_pretrained_paths', 'check_resume_checkpoint', 'load_config']
