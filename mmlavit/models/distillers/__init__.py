from .recorders import ModuleRecorder, to_logits
from .single_teacher import SingleTeacherDistiller, apply_distiller, load_teacher_config, student_state_dict

__all__ = ['ModuleRecorder', 'to_logits', 'SingleTeacherDistiller', 'apply_distiller', 'load_teacher_config',
           'student_state_dict']
