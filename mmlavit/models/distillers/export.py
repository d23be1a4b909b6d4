"""Export: the plain student's weights from a distiller's checkpoint."""
from typing import Dict

import torch


def student_state_dict(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The plain student's state dict from a distiller's (teacher and loss modules dropped, the
    ``student.`` prefix removed), loadable by the student's own config."""
    out = {k[len('student.'):]: v for k, v in state_dict.items() if k.startswith('student.')}
    if not out:
        raise KeyError('no "student." keys: this is not a SingleTeacherDistiller checkpoint')
    return out


def export_student(src: str, dst: str) -> int:
    """Write the student of distiller checkpoint ``src`` to ``dst`` (``meta`` kept, plus
    ``converted_from``); returns the number of tensors."""
    ckpt = torch.load(src, map_location='cpu')
    sd = student_state_dict(ckpt.get('state_dict', ckpt))
    torch.save(dict(state_dict=sd, meta=dict(ckpt.get('meta', {}), converted_from=src)), dst)
    return len(sd)
