"""Class-aware logit KD, CLKD (Zhang, Liu, Hopcroft, He; arXiv 2211.14773)."""
from typing import Union

import torch
import torch.nn.functional as F

from mmlavit.registry import register

from .utils import check_logit_pair
from .warmup import WarmupLoss


def _rownorm(z: torch.Tensor) -> torch.Tensor:
    return F.normalize(z, p=2, dim=1)


def class_correlation(z: torch.Tensor) -> torch.Tensor:
    """``B = (Z − mean)ᵀ (Z − mean) / (N − 1)``: the (C, C) class covariance over the batch."""
    zc = z - z.mean(dim=0, keepdim=True)
    return zc.t() @ zc / max(z.shape[0] - 1, 1)


@register('model')
class CLKDLoss(WarmupLoss):
    """``L = w · [μ · (L_ins + β · L_cla) + ν · L_cc]``; the student's own CE weight λ is the distiller's
    ``student_loss_weight`` (0.1 in the public re-implementations).

    * ``L_ins = MSE(rownorm(Z_S), rownorm(Z_T))`` — each sample's logits L2-normalised;
    * ``L_cla`` — the same on the transposes, each class's logits across the batch (batch-size dependent);
    * ``L_cc = mean((B_S − B_T)²)`` with :func:`class_correlation` (C, C).

    No temperature: the normalisation removes the logit scale, and with it the pull: the gradient of a
    normalised row falls as 1/‖z‖ while the logits grow in training (``logit_scale`` counters it).
    The re-implementations' form is ``reduction='element', cc_normalize=False, logit_scale=1``
    (``configs/distill/_base_/methods/clkd_reimpl.py``); the defaults of ``reduction`` and ``cc_normalize``
    are ours (docs/references.md; measurements in docs/distill_fewshot_design.md).
    Inputs: ``student``, ``teacher`` logits ``(N, C)``, N ≥ 2; the teacher is detached.

    Args:
        mu (float): μ, the weight of the instance and class terms. Defaults to 0.5.
        beta (float): β, the class term's weight inside μ. Defaults to 2.0.
        nu (float): ν, the class-correlation weight. Defaults to 0.4.
        loss_weight (float): w. Defaults to 1.0.
        cc_normalize (bool): ``B`` on the row-normalised logits (ours: scale-free like the other terms)
            instead of the raw ones (the re-implementations', grows with the 4th power of the logit scale).
            Defaults to True.
        reduction (str): ``'element'``: the mean over all elements (``F.mse_loss``, the re-implementations');
            ``'row'`` (ours): the squared L2 distance per normalised row averaged over rows (= 2 − 2·cos;
            ``'element'`` × C, N and C² for the three terms). Defaults to ``'row'``.
        logit_scale (float | str): multiplies the normalised rows of ``L_ins`` and ``L_cla`` before the
            squared differences: a number ``s`` (the terms and their gradients × s²; 1 is the paper's form)
            or ``'student_norm'`` (ours): each row by ``√‖z_S row‖`` (detached), i.e. each row's squared
            distance weighted by the student row's norm, so that the gradient w.r.t. the student's logits
            does not fade as 1/‖z‖ (``L_cc`` is left as it is). Defaults to 1.0.
        warmup (float): fraction of training over which w ramps up linearly from 0 (ours, as DKD's).
            Defaults to 0.0.
    """

    def __init__(self, mu: float = 0.5, beta: float = 2.0, nu: float = 0.4, loss_weight: float = 1.0,
                 cc_normalize: bool = True, reduction: str = 'row', warmup: float = 0.0,
                 logit_scale: Union[float, str] = 1.0):
        super().__init__(warmup)
        if reduction not in ('row', 'element'):
            raise ValueError(f"reduction must be 'row' or 'element', got {reduction!r}")
        if isinstance(logit_scale, str) and logit_scale != 'student_norm':
            raise ValueError(f"logit_scale must be a positive number or 'student_norm', got {logit_scale!r}")
        if not isinstance(logit_scale, str) and not logit_scale > 0:
            raise ValueError(f'logit_scale must be a positive number or \'student_norm\', got {logit_scale}')
        self.reduction, self.logit_scale = reduction, logit_scale
        self.mu, self.beta, self.nu, self.loss_weight = mu, beta, nu, loss_weight
        self.cc_normalize = cc_normalize

    def check_inputs(self, inputs: dict, key: str, where: str) -> None:
        """Called by the distiller before :meth:`forward` with its keyword arguments: the two models'
        logits must pair up (:func:`~mmlavit.models.losses.utils.check_logit_pair`)."""
        check_logit_pair(where, inputs.get('student'), inputs.get('teacher'))

    def _scaled(self, zs: torch.Tensor, zt: torch.Tensor) -> torch.Tensor:
        """``s · (rownorm(zs) − rownorm(zt))`` with ``s`` from ``logit_scale`` (a number, or per row the
        square root of the student's detached row norm)."""
        diff = _rownorm(zs) - _rownorm(zt)
        if self.logit_scale == 'student_norm':
            return diff * zs.detach().norm(dim=1, keepdim=True).sqrt()
        return diff * self.logit_scale if self.logit_scale != 1 else diff

    @staticmethod
    def _row_mean(sq: torch.Tensor) -> torch.Tensor:
        return sq.sum(dim=1).mean()

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        if student.shape != teacher.shape or student.ndim != 2:
            raise ValueError(f'CLKD needs (N, C) logits of the same shape, got {tuple(student.shape)} and '
                             f'{tuple(teacher.shape)}')
        if student.shape[0] < 2:
            raise ValueError('CLKD needs a batch of at least 2 samples (class-level and correlation terms)')
        teacher = teacher.detach()
        red = self._row_mean if self.reduction == 'row' else torch.mean
        ins = red(self._scaled(student, teacher).pow(2))
        cla = red(self._scaled(student.t(), teacher.t()).pow(2))
        zs, zt = (_rownorm(student), _rownorm(teacher)) if self.cc_normalize else (student, teacher)
        sq = (class_correlation(zs) - class_correlation(zt)).pow(2)
        cc = sq.sum() if self.reduction == 'row' else sq.mean()
        return self.ramp * self.loss_weight * (self.mu * (ins + self.beta * cla) + self.nu * cc)
