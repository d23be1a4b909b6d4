"""Class-aware logit KD, CLKD (Zhang, Liu, Hopcroft, He; arXiv 2211.14773)."""
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
    """``L = μ · (L_ins + β · L_cla) + ν · L_cc`` (the student's own CE, λ = 0.1 in the paper's
    re-implementations, is the distiller's ``student_loss_weight``).

    The paper's form, as its re-implementations write it: ``reduction='element', cc_normalize=False``
    with μ 0.5, β 2, ν 0.4, ``loss_weight=1``, no warm-up, λ 0.1 — the method base
    ``configs/distill/_base_/methods/clkd_paper.py``. The defaults of ``reduction`` and ``cc_normalize``
    are ours (``configs/distill/_base_/methods/clkd.py`` adds weight 4, λ 1 and a warm-up), kept as the
    defaults because the literal form measured worse on the small study (configs/distill/clkd/README.md;
    docs/references.md gives the equations).

    * instance level ``L_ins = MSE(rownorm(Z_S), rownorm(Z_T))`` — each sample's logits L2-normalised;
    * class level ``L_cla = MSE(rownorm(Z_Sᵀ), rownorm(Z_Tᵀ))`` — each class's logits across the batch
      (so it depends on the batch size);
    * class correlation ``L_cc = mean((B_S − B_T)²)`` with :func:`class_correlation` (a sum with
      ``reduction='row'``, below).

    No temperature: the normalisation removes the logit scale.
    Inputs: ``student``, ``teacher`` logits ``(N, C)``, N ≥ 2; the teacher is detached.

    ``reduction`` says how the squared differences are averaged:

    * ``'element'``: the mean over all elements (``F.mse_loss``), as the re-implementations write it. Each
      term is then divided by the number of classes (L_ins), samples (L_cla) or C² (L_cc) on top: at
      initialisation on the 100-class small config its gradient was 0.5–1.3 % of the CE's, and the student
      ended where it ends without a teacher (docs/distill_fewshot_design.md).
    * ``'row'`` (default): the squared L2 distance per normalised row, averaged over the rows, i.e.
      ``L_ins = 1/N Σ_i ‖ẑ_i^S − ẑ_i^T‖²`` (= 2 − 2·cos per sample), ``L_cla`` the same per class column,
      and ``L_cc = Σ_jk (B_S − B_T)²_jk`` (squared Frobenius norm). This is ``'element'`` times C, N and C².

    ``warmup`` (ours, as DKD's): the weight grows linearly from 0 over this fraction of training. The
    gradient of a row-normalised vector scales with 1/‖z‖, so it is largest at initialisation, when the
    logits are small; without the ramp some seeds did not recover on the small digits config.

    ``cc_normalize`` (ours, default True): ``B`` is computed on the row-normalised logits (the same
    normalisation as ``L_ins``), so ``L_cc`` is scale-free and bounded like the other two terms. On raw
    logits (``cc_normalize=False``, the re-implementations' formula) ``L_cc`` grows with the 4th power of
    the logit scale: with ``reduction='row'``, weight 4 and the CIFAR recipe's lr 0.05 it was 68 after one
    epoch and NaN after three on the small distillation config; in the literal form (element means,
    weight 1) it stayed finite but the student did not learn (docs/distill_fewshot_design.md).
    """

    def __init__(self, mu: float = 0.5, beta: float = 2.0, nu: float = 0.4, loss_weight: float = 1.0,
                 cc_normalize: bool = True, reduction: str = 'row', warmup: float = 0.0):
        super().__init__(warmup)
        if reduction not in ('row', 'element'):
            raise ValueError(f"reduction must be 'row' or 'element', got {reduction!r}")
        self.reduction = reduction
        self.mu, self.beta, self.nu, self.loss_weight = mu, beta, nu, loss_weight
        self.cc_normalize = cc_normalize

    def check_inputs(self, inputs: dict, key: str, where: str) -> None:
        """Called by the distiller before :meth:`forward` with its keyword arguments: the two models'
        logits must pair up (:func:`~mmlavit.models.losses.utils.check_logit_pair`)."""
        check_logit_pair(where, inputs.get('student'), inputs.get('teacher'))

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
        ins = red((_rownorm(student) - _rownorm(teacher)).pow(2))
        cla = red((_rownorm(student.t()) - _rownorm(teacher.t())).pow(2))
        zs, zt = (_rownorm(student), _rownorm(teacher)) if self.cc_normalize else (student, teacher)
        sq = (class_correlation(zs) - class_correlation(zt)).pow(2)
        cc = sq.sum() if self.reduction == 'row' else sq.mean()
        return self.ramp * self.loss_weight * (self.mu * (ins + self.beta * cla) + self.nu * cc)
