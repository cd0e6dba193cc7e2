# LoanMart — the two commands: `make demo` and `make test`.
# Needs only Python 3.11+; everything else is installed from the lock file.
PYTHON ?= python3
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
VENV   := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: demo test install browser lint format messages bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

install: $(UV)
	$(UV) sync --frozen --python $(PYTHON) --quiet

demo: install
	$(VENV)/bin/loanmart demo

# Debian's chromium drives the browser tests (never a downloaded browser build).
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

test: install browser
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy marketplace server portal institution_console admin search
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The catalogue template for translators (babel.cfg says which files). Run it after adding
# or changing user-facing text; tests/unit/test_i18n.py fails while it is out of date.
messages: install
	$(VENV)/bin/pybabel -q extract -F babel.cfg -k _ -k N_ -c Translators: --add-location=file \
		--omit-header --sort-output -o locale/messages.pot .

bench: install
	$(VENV)/bin/python bench/bench_quote.py
	$(VENV)/bin/python bench/bench_search.py
	$(VENV)/bin/python bench/bench_web.py

clean:
	rm -rf $(VENV) $(TOOLS) var
