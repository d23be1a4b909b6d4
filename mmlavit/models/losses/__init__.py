from .clkd import CLKDLoss, class_correlation
from .dkd import DKDLoss
from .kd import KDLoss

__all__ = ['KDLoss', 'DKDLoss', 'CLKDLoss', 'class_correlation']
