from . import synthetic
from .fewshot import EpisodicDataset, read_class_folders, read_csv_split
from .long_tail import LongTailDataset, long_tail_counts
from .transforms import SkipUnreadable, wrap_loading_transforms

__all__ = ['synthetic', 'EpisodicDataset', 'LongTailDataset', 'long_tail_counts', 'read_class_folders',
           'read_csv_split', 'SkipUnreadable', 'wrap_loading_transforms']
