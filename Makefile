# The two set-up-and-run commands of the README. Both create .venv/ (tools/install_env.sh) when needed.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mmlavit-installed
DEMO_CFG ?= configs/lavit/mask-rcnn_lavit-t_fpn_synth-coco.py
DEMO_DIR ?= work_dirs/demo_mask-rcnn_lavit-t
CLS_CFG := configs/lavit/lavit-t_synth-cls.py
CLS_CKPT := work_dirs/lavit-t_synth-cls/epoch_15.pth
PYTEST_ARGS ?=

.PHONY: install demo test lint clean-venv

install:
	@bash tools/install_env.sh

# Main job, offline: a small LaViT-T classifier on generated class folders (its checkpoint initialises the
# detector's backbone), then Mask R-CNN + LaViT-T on generated COCO-format shapes; prints CocoMetric mAP.
demo: install $(CLS_CKPT)
	$(PY) tools/dataset_converters/generate_data.py coco data/synthetic_coco
	$(PY) tools/train.py $(DEMO_CFG) --work-dir $(DEMO_DIR)
	@$(PY) tools/analysis_tools/print_metrics.py $(DEMO_DIR)

$(CLS_CKPT):
	$(PY) tools/dataset_converters/generate_data.py imagenet data/synthetic_imagenet
	$(PY) tools/train.py $(CLS_CFG)

# The style the repository claims (setup.cfg: flake8 110 columns, isort); .ci/run runs it before the tests.
LINT_PATHS := mmlavit tools tests configs demo setup.py
lint: install
	$(VENV)/bin/flake8 $(LINT_PATHS)
	$(VENV)/bin/isort --check-only --diff $(LINT_PATHS)

test: install
	$(PY) -m pytest -q -n 2 --dist loadgroup $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
