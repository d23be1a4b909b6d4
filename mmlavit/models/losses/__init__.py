from .clkd import CLKDLoss, class_correlation
from .cwd import ChannelWiseDivergence, channel_wise_divergence
from .dkd import DKDLoss
from .feature_mse import FeatureMSELoss
from .kd import KDLoss
from .multi_level import MultiLevelLoss
from .pkd import PKDLoss, standardize_channels
from .trg import TRGLoss, contextual_loss

__all__ = ['KDLoss', 'DKDLoss', 'CLKDLoss', 'TRGLoss', 'class_correlation', 'contextual_loss',
           'ChannelWiseDivergence', 'channel_wise_divergence', 'PKDLoss', 'standardize_channels',
           'FeatureMSELoss', 'MultiLevelLoss']
