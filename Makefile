# One-command entry points. Each target sets up its own venv with the pinned stack.
#   make demo   synthetic CASME II-layout data -> ingest check -> whole TFX pipeline -> report
#               (DEMO_SEED=N: another training seed; bench/demo_seeds.py runs 5 of them)
#   make test   the whole test suite (includes one full pipeline run, and the image test
#               when a Docker engine is reachable)
#   make image  the Kubeflow image (BASE_IMAGE=python:3.10-slim for the CPU base,
#               TF_EXTRA=and-cuda for its GPU wheels; IMAGE=REGISTRY/mer-tfx:TAG)
PYTHON ?= python3.10
VENV := .venv
BIN := $(VENV)/bin
DEMO := demo_out
DEMO_SUBJECTS ?= 12
DEMO_CLIPS ?= 4
DEMO_EPOCHS ?= 40
DEMO_SEED ?= 0
DEMO_ROLL ?= 8
IMAGE ?= mer-tfx:local
BASE_IMAGE ?= tensorflow/tfx:1.16.0
TF_EXTRA ?=
# a proxy that re-signs TLS: its CA, for pip in the build's dependency stage
CA_FILES := $(wildcard /usr/local/share/ca-certificates/*.crt)

.PHONY: install demo test test-fast image bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 10), "mer-tfx needs Python 3.10 (TFX 1.16); pyenv: pyenv install 3.10.13"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==24.2"

$(VENV)/.installed: $(BIN)/python setup.py pyproject.toml constraints.txt
	@# both OpenCV builds provide cv2: a venv from before the switch to contrib drops the plain one
	$(BIN)/pip uninstall --quiet --yes opencv-python-headless 2>/dev/null || true
	$(BIN)/pip install --quiet --constraint constraints.txt --editable ".[test]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/mer-tfx synth --layout casme2 --out $(DEMO)/data --subjects $(DEMO_SUBJECTS) --clips-per-class $(DEMO_CLIPS) --seed 0 --face photo --roll $(DEMO_ROLL) --balance casme2
	$(BIN)/mer-tfx ingest --dataset casme2 --root $(DEMO)/data/CASME2_RAW_selected --annotations $(DEMO)/data/CASME2-coding-20140508.xlsx --out $(DEMO)/ingest
	$(BIN)/mer-tfx run --dataset casme2 --root $(DEMO)/data/CASME2_RAW_selected --annotations $(DEMO)/data/CASME2-coding-20140508.xlsx --output $(DEMO) --epochs $(DEMO_EPOCHS) --seed $(DEMO_SEED)
	$(BIN)/mer-tfx report --pipeline-root $(DEMO)/pipeline_root --out $(DEMO)/report --explain
	$(BIN)/mer-tfx predict --model $(DEMO)/serving_model/mer_model --pipeline-root $(DEMO)/pipeline_root --frames $(DEMO)/data/CASME2_RAW_selected/sub01/$$(ls $(DEMO)/data/CASME2_RAW_selected/sub01 | head -1) --explain $(DEMO)/explain
	@echo "Report: $(DEMO)/report/report.html"

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

image:
	docker build --network host --build-arg BASE_IMAGE=$(BASE_IMAGE) \
	  $(if $(TF_EXTRA),--build-arg TF_EXTRA=$(TF_EXTRA)) $(if $(CA_FILES),--build-arg EXTRA_CA_CERTS="$$(cat $(CA_FILES))") -t $(IMAGE) .
	@docker image inspect --format '$(IMAGE): {{.Size}} bytes' $(IMAGE)

bench: install
	$(BIN)/python bench/ingest_throughput.py
	$(BIN)/python bench/flow.py
	$(BIN)/python bench/models.py
	$(BIN)/python bench/real_texture.py
	$(BIN)/python bench/demo_seeds.py
	$(BIN)/python bench/protocols.py
	$(BIN)/python bench/fold_executors.py
	$(BIN)/python bench/trainer_memory.py

clean:
	rm -rf $(DEMO) build *.egg-info
