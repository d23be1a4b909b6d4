"""Export: the plain student's weights from a distiller's checkpoint."""
from collections import Counter
from typing import Dict

import torch


def student_state_dict(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The plain student's state dict from a distiller's (teacher, connectors and loss modules dropped, the
    ``student.`` prefix removed), loadable by the student's own config."""
    out = {k[len('student.'):]: v for k, v in state_dict.items() if k.startswith('student.')}
    if not out:
        raise KeyError('no "student." keys: this is not a SingleTeacherDistiller checkpoint')
    return out


def dropped_parts(state_dict: Dict[str, torch.Tensor]) -> Dict[str, int]:
    """What the export leaves out: ``{top-level part: tensors}``, e.g. ``{'connectors': 4,
    'distill_losses': 2}``."""
    return dict(Counter(k.split('.', 1)[0] for k in state_dict if not k.startswith('student.')))


def export_student(src: str, dst: str) -> Dict[str, int]:
    """Write the student of distiller checkpoint ``src`` to ``dst`` (``meta`` kept, plus
    ``converted_from``); returns ``{'student': tensors written, <dropped part>: tensors, ...}``."""
    ckpt = torch.load(src, map_location='cpu')
    full = ckpt.get('state_dict', ckpt)
    sd = student_state_dict(full)
    torch.save(dict(state_dict=sd, meta=dict(ckpt.get('meta', {}), converted_from=src)), dst)
    return dict(student=len(sd), **dropped_parts(full))
