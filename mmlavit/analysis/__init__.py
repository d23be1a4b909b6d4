"""Analysis layer under ``tools/``: timing harness, building models by name, study runner, statistics and
report tables. Tools import these modules; nothing in the model code imports them. Keep this file free of
imports so that ``import mmlavit.analysis.<module>`` stays cheap."""
