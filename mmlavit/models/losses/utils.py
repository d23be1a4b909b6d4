"""Input checks shared by the logit losses, called through the distiller's ``check_inputs`` hook."""
import torch


def check_logit_pair(where: str, student, teacher) -> None:
    """Logits ``(N, C)`` of the two models must agree (same classes, same rows); raises a ``ValueError``
    that starts with ``where`` (the config key and its recorders) and names the setting to change."""
    if not (torch.is_tensor(student) and torch.is_tensor(teacher)):
        return
    if student.ndim == teacher.ndim == 2 and student.shape != teacher.shape:
        if student.shape[1] != teacher.shape[1]:
            raise ValueError(f"{where}: the student's logits have {student.shape[1]} classes, the "
                             f"teacher's {teacher.shape[1]}: both models must predict the same classes — set "
                             'the num_classes of the student (model.student...num_classes) or of the teacher '
                             "(model.teacher.cfg_options={'model.head.num_classes': ...} for a config)")
        raise ValueError(f'{where}: the student gives {student.shape[0]} logit rows, the teacher '
                         f'{teacher.shape[0]}: rows must pair up — for dense heads the same anchors per '
                         'position and the same feature-map sizes (input size, strides); for per-pixel '
                         'logits the same output size')
