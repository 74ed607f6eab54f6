# Everything a fresh machine needs: `make demo` and `make test` create .venv and install framedb first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
FRAMEDB := $(BIN)/framedb --db demo/demo.db

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	rm -rf demo
	$(BIN)/python -m framedb.synth demo
	$(FRAMEDB) ingest demo
	$(FRAMEDB) videos
	$(FRAMEDB) where demo/looped.mp4 5.5s
	$(FRAMEDB) check

lint: install
	$(BIN)/ruff check framedb migrations tests benchmarks cli.py
	$(BIN)/ruff format --check framedb migrations tests benchmarks cli.py
	$(BIN)/mypy framedb

test: install lint
	$(BIN)/pytest -q

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) demo build dist *.egg-info
