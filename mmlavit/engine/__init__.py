from .divergence import DivergenceError, DivergenceGuardHook, nonfinite_terms
from .hooks import (AuxiliaryLossHook, DistillerProgressHook, ProgressBarHook, collect_aux_losses,
                    install_aux_losses)
from .random_state import RandomStateHook

__all__ = [
    'DivergenceError', 'DivergenceGuardHook', 'nonfinite_terms', 'RandomStateHook',
    'AuxiliaryLossHook', 'DistillerProgressHook', 'ProgressBarHook', 'collect_aux_losses',
    'install_aux_losses']
