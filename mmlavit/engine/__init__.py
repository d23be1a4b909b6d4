from .hooks import (AuxiliaryLossHook, DistillerProgressHook, ProgressBarHook, collect_aux_losses,
                    install_aux_losses)

__all__ = ['AuxiliaryLossHook', 'DistillerProgressHook', 'ProgressBarHook', 'collect_aux_losses', 'install_aux_losses']
