from .clkd import CLKDLoss, class_correlation
from .dkd import DKDLoss
from .kd import KDLoss
from .trg import TRGLoss, contextual_loss

__all__ = ['KDLoss', 'DKDLoss', 'CLKDLoss', 'TRGLoss', 'class_correlation', 'contextual_loss']
