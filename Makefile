# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv when it is missing and install everything pinned.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= runs/demo

.PHONY: setup demo test test-quick

setup: $(STAMP)

# torch==2.13.0 first and alone: pip takes the CPU build from the local file,
# and nothing later asks for a looser torch (lava-dl goes in with --no-deps).
# norse 1.1.0 last, with --no-deps: it declares torchvision, whose wheels need
# a newer (CUDA) torch; `neurodeploy import` uses only its NIR reader and
# neurons, and its other dependencies (nirtorch, nir) are pinned in pyproject.
# sinabs 3.1.3 (and pbr, its version helper) with it: sinabs declares samna,
# the Speck SDK, which its NIR export (tests/test_nir_nodes.py) never imports.
# neurobench 2.3.0 with --no-deps: it declares torchaudio (whose wheels need another
# torch); its metrics and Benchmark (tests/test_neurobench.py) import only torch,
# snntorch, numpy and tqdm, all installed; torchaudio only in its audio preprocessors.
# lava-nc/lava-dl declare Python <3.11: --ignore-requires-python; their
# dependencies are pinned in pyproject.toml (see shared/docs/lava-notes.md),
# and constraints.txt pins every transitive package to the tested versions.
$(STAMP): pyproject.toml constraints.txt Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --ignore-requires-python lava-nc==0.10.0 lava-dl==0.6.0
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps norse==1.1.0 sinabs==3.1.3 pbr==7.1.3
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps neurobench==2.3.0
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/neurodeploy run --out $(OUT)

test: $(STAMP)
	$(PY) -m pytest

test-quick: $(STAMP)
	$(PY) -m pytest -m "not slow"
