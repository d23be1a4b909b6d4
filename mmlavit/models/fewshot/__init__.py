from .data_preprocessor import EpisodeDataPreprocessor
from .gp import GPANIL, GPBOIL, GPMAML, RelationScale, label_propagation, pick_confident
from .maml import ANIL, BOIL, MAML, Learner

__all__ = ['EpisodeDataPreprocessor', 'MAML', 'ANIL', 'BOIL', 'GPMAML', 'GPANIL', 'GPBOIL', 'Learner',
           'RelationScale', 'label_propagation', 'pick_confident']
