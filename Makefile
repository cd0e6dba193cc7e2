# LoanMart — the two commands: `make demo` and `make test`.
# Needs only Python 3.11+; everything else is installed from the lock file.
PYTHON ?= python3
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
VENV   := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help demo test install browser lint format messages bench clean
.DEFAULT_GOAL := help

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

install: $(UV) ## install the locked dependencies into .venv
	$(UV) sync --frozen --python $(PYTHON) --quiet

demo: install ## run everything on the embedded default (PostgreSQL, Redis, search, web, worker)
	$(VENV)/bin/loanmart demo

# Debian's chromium drives the browser tests (never a downloaded browser build).
browser: ## install Debian chromium and CJK fonts for the browser tests, if missing
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

# pytest-xdist: two workers for this project's 2-core machines (at most 7: each worker
# takes two of Redis's 16 databases); loadfile keeps a file's tests on one worker, so its
# module fixtures are built once.
PYTEST_WORKERS ?= 2
test: install browser ## run the whole test suite in parallel (pytest-xdist)
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadfile

lint: install ## ruff, format check, mypy and import contracts (same as pre-commit)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy marketplace server portal institution_console admin search open_api
	$(VENV)/bin/lint-imports

format: install ## format and auto-fix the code
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The catalogue template for translators (babel.cfg says which files). Run it after adding
# or changing user-facing text; tests/unit/test_i18n.py fails while it is out of date.
messages: install ## regenerate locale/messages.pot from the sources
	$(VENV)/bin/pybabel -q extract -F babel.cfg -k _ -k N_ -c Translators: --add-location=file \
		--omit-header --sort-output -o locale/messages.pot .

bench: install ## run the benchmarks (ratios against same-run baselines)
	$(VENV)/bin/python bench/bench_quote.py
	$(VENV)/bin/python bench/bench_search.py
	$(VENV)/bin/python bench/bench_web.py

clean: ## remove .venv, .tools and var/
	rm -rf $(VENV) $(TOOLS) var
