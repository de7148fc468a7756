# 知库 Zhiku — the two commands: `make run` (set up + serve) and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv

.PHONY: setup run test bench clean-var

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ required"'
	$(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e ".[test]"
	touch $@

run: setup
	$(VENV)/bin/python -m api

test: setup
	bash scripts/test.sh

bench: setup
	$(VENV)/bin/python -m pip install -q -e ".[test,bench]"
	@echo "benchmarks installed; run one, e.g. $(VENV)/bin/python bench/suggest_load.py (see bench/README.md)"

clean-var:
	rm -rf data/var
