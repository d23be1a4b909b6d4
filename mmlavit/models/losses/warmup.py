"""A linear warm-up of a loss weight over the first part of training (DKD's recipe; CLKD uses it too)."""
import torch.nn as nn


class WarmupLoss(nn.Module):
    """``warmup``: fraction of training over which the weight grows linearly from 0 to 1 (0 disables the
    ramp). The distiller reports progress in [0, 1] through :meth:`set_progress`
    (:class:`~mmlavit.engine.DistillerProgressHook`)."""

    def __init__(self, warmup: float = 0.0):
        super().__init__()
        if not 0.0 <= warmup <= 1.0:
            raise ValueError(f'warmup is a fraction of training in [0, 1], got {warmup}')
        self.warmup = warmup
        self.progress = 1.0

    def set_progress(self, p: float) -> None:
        """Training progress, clamped to [0, 1] (e.g. iteration / max_iters)."""
        self.progress = min(max(float(p), 0.0), 1.0)

    @property
    def ramp(self) -> float:
        return min(self.progress / self.warmup, 1.0) if self.warmup > 0 else 1.0
