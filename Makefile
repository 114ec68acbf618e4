# Two commands do everything: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.whsim-installed

.PHONY: demo test lint typecheck install clean browser

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check whsim conformance tests benchmarks
	$(BIN)/ruff format --check whsim conformance tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# Headless Chromium for the layout tests: installed when missing and we are root (CI).
browser:
	@.ci/ensure-chromium

# Both cores (pytest-xdist, a file per worker so module fixtures run once), then the tests that
# make their own load, alone: together they would starve each other's timing.
test: lint typecheck browser
	MPLBACKEND=Agg $(BIN)/python -m pytest -n 2 --dist loadfile -m "not alone"
	MPLBACKEND=Agg $(BIN)/python -m pytest -m alone

demo: $(STAMP)
	MPLBACKEND=Agg $(BIN)/whsim demo --out reports

clean:
	rm -rf $(VENV) reports .mypy_cache .pytest_cache .ruff_cache
