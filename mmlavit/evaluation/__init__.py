from .fewshot_metric import FewShotMetric, mean_ci95

__all__ = ['FewShotMetric', 'mean_ci95']
