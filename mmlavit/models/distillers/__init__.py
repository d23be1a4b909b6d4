"""Distillation as a model: :class:`SingleTeacherDistiller` and its parts (teacher, recorders, loss
inputs, connectors, export); old ``distiller`` blocks are refused by every entry point once mmlavit is
imported (:mod:`.legacy`)."""
from .connectors import ChannelAdapter, ConnectorChain, SpatialResize, build_connector
from .export import dropped_parts, export_student, student_state_dict
from .legacy import LegacyDistillerConfigError, check_no_legacy_distiller, guard_runner_from_cfg, new_form
from .loss_inputs import DATA_FIELDS, LossInputs
from .recorders import ModuleRecorder, RecorderManager, to_logits
from .single_teacher import SingleTeacherDistiller
from .teacher import TeacherInputMap, build_teacher, input_normalisation, load_teacher_config

guard_runner_from_cfg()

__all__ = ['SingleTeacherDistiller', 'ChannelAdapter', 'SpatialResize', 'ConnectorChain', 'build_connector',
           'ModuleRecorder', 'RecorderManager', 'to_logits', 'LossInputs', 'DATA_FIELDS', 'TeacherInputMap',
           'build_teacher', 'input_normalisation', 'load_teacher_config', 'student_state_dict',
           'dropped_parts', 'export_student', 'LegacyDistillerConfigError', 'check_no_legacy_distiller',
           'guard_runner_from_cfg', 'new_form']
