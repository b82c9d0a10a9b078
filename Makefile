# The two commands a newcomer runs: `make demo` and `make test`. Each builds .venv itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench venv clean browser-deps

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	SYNDICATION_CONFIG=$${SYNDICATION_CONFIG:-examples/insightcrime.toml} $(BIN)/syndication demo

test: $(STAMP) browser-deps
	$(BIN)/ruff check syndication workers tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check syndication workers tests bench
	$(BIN)/ruff format --check syndication workers tests bench
	$(BIN)/mypy

# The browser tests (tests/browser/) drive Debian's chromium through Playwright; Playwright's
# own browser download cannot work here, so as root we install the distribution's package.
# Not root: say how, and those tests skip with the same reason.
CHROMIUM := /usr/bin/chromium
browser-deps:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's chromium for the browser tests (apt-get, takes a minute or two)..."; \
		{ apt-get update -qq >/dev/null && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		    chromium >/dev/null; } || { echo "apt-get install chromium failed"; exit 1; }; \
		echo "Installed $$($(CHROMIUM) --version 2>/dev/null)"; \
	else \
		echo "$(CHROMIUM) is missing: the browser tests will be skipped. To run them:"; \
		echo "    sudo apt-get install --no-install-recommends chromium"; \
	fi

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
