from .hooks import AuxiliaryLossHook, collect_aux_losses, install_aux_losses

__all__ = ['AuxiliaryLossHook', 'collect_aux_losses', 'install_aux_losses']
