"""Analysis layer under ``tools/``: timing harness, building models by name, study runner and report tables
(the statistics are :mod:`mmlavit.evaluation.stats`, which the few-shot metric uses too). Tools import these
modules; nothing in the model code imports them. Keep this file free of imports so that
``import mmlavit.analysis.<module>`` stays cheap."""
