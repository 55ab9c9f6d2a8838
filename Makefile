# Vigil developer commands. Everything runs from the project's own virtualenv (.venv);
# nothing needs activating. `make help` lists the targets.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=

MIN_PY_CHECK := import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)

.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

.PHONY: help venv .venv lock demo serve test lint fmt bench clean

help: ## List the targets
	@echo "Vigil make targets:"
	@grep -hE '^[a-zA-Z_. -]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "} {printf "  %-11s %s\n", $$1, $$2}'
	@echo "Variables: PYTHON=$(PYTHON) (interpreter for the venv), ARGS= (passed to vigil)"

venv .venv: $(STAMP) ## Create .venv and install the locked dependencies

# The stamp is newer than both inputs once an install has succeeded, so this reruns only
# when pyproject.toml or requirements.lock change (or after `make clean`).
$(STAMP): pyproject.toml requirements.lock
	@if [ ! -x "$(BIN)/python" ]; then \
		command -v "$(PYTHON)" >/dev/null 2>&1 || { \
			echo "error: '$(PYTHON)' not found. Install Python >= 3.11 or run 'make PYTHON=/path/to/python3.11'." >&2; \
			exit 1; }; \
		"$(PYTHON)" -c '$(MIN_PY_CHECK)' || { \
			echo "error: Vigil needs Python >= 3.11 but '$(PYTHON)' is $$("$(PYTHON)" -V 2>&1)." \
				"Run 'make PYTHON=/path/to/python3.11'." >&2; \
			exit 1; }; \
		"$(PYTHON)" -m venv "$(VENV)" || { \
			echo "error: '$(PYTHON) -m venv' failed. On Debian/Ubuntu: apt-get install python3-venv" >&2; \
			exit 1; }; \
	fi
	@"$(BIN)/python" -c '$(MIN_PY_CHECK)' || { \
		echo "error: $(VENV) uses $$("$(BIN)/python" -V 2>&1); Vigil needs >= 3.11." \
			"Run 'make clean' and then 'make PYTHON=/path/to/python3.11 .venv'." >&2; \
		exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch "$(STAMP)"

lock: ## Regenerate requirements.lock from pyproject.toml with uv
	@[ -x "$(BIN)/python" ] || { echo "error: no $(VENV) yet; run 'make .venv' first" >&2; exit 1; }
	@[ -x "$(BIN)/uv" ] || $(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dev --extra gpu --python-version 3.11 \
		-o requirements.lock

demo: $(STAMP) ## Build demo data if absent, serve it with live traffic; prints URL and token
	$(BIN)/vigil demo $(ARGS)

serve: $(STAMP) ## Run the server (ARGS="--port 8501 --db vigil-data/vigil.duckdb")
	$(BIN)/vigil serve $(ARGS)

test: $(STAMP) ## Lint, type-check, check layers and Dockerfile, then run the tests
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy storage monitoring
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile
	$(BIN)/pytest -q

lint: $(STAMP) ## Ruff lint and format check only
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP) ## Format the code and apply ruff's safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) ## Run the benchmarks (results in benchmarks/results/)
	$(BIN)/python -m benchmarks

clean: ## Remove .venv and caches (never vigil-data/)
	rm -rf "$(VENV)" .pytest_cache .mypy_cache .ruff_cache .import_linter_cache build dist
	find . -path ./vigil-data -prune -o \
		\( -name __pycache__ -o -name '*.egg-info' \) -type d -prune -exec rm -rf {} +
