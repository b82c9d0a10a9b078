# The two commands a newcomer runs: `make demo` and `make test`. Each builds .venv itself, from
# requirements-dev.lock: every package pinned with its hashes. `make lock` refreshes the locks.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK     := requirements.lock
DEV_LOCK := requirements-dev.lock

.PHONY: demo test test-shifted lint lock bench scale faults venv clean browser-deps

# Nothing unpinned is fetched: first the locked pip (python -m venv brings whatever pip that
# Python bundles), then every locked package with its hashes checked and nothing resolved, then
# the project itself, editable, built by the locked hatchling (no isolated build environment).
# `pip check` catches a dependency added to pyproject.toml but not yet locked (`make lock`).
$(STAMP): $(DEV_LOCK) pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import re, sys; print(re.search(r"^pip==.*?(?=^\S|\Z)", open(sys.argv[1]).read(), re.M | re.S)[0])' \
		$(DEV_LOCK) > $(VENV)/pip.lock
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(VENV)/pip.lock
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --no-index -e .
	@$(BIN)/python -m pip check >/dev/null || { $(BIN)/python -m pip check; \
		echo "$(DEV_LOCK) does not match pyproject.toml: run make lock"; exit 1; }
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	SYNDICATION_CONFIG=$${SYNDICATION_CONFIG:-examples/insightcrime.toml} $(BIN)/syndication demo

# `lint` first, so CI (which runs `make test`) checks exactly what the git hook checks.
test: lint browser-deps
	$(BIN)/python -m pytest --durations=15

# The whole suite on a machine whose calendar is SHIFT_DAYS off (default: a year and a month
# ahead; `make test-shifted SHIFT_DAYS=-200` for behind). tests/tools/clockshift.c moves the
# wall clock of pytest and of everything it starts (workers, uvicorn, redis-server, chromium)
# and leaves the monotonic clocks alone. Extra pytest arguments: PYTEST_ARGS="-k feeds".
SHIFT_DAYS ?= 400
CLOCKSHIFT := $(VENV)/clockshift.so
$(CLOCKSHIFT): tests/tools/clockshift.c $(STAMP)
	cc -shared -fPIC -O2 -o $@ $< -ldl
test-shifted: $(CLOCKSHIFT) browser-deps
	@echo "Wall clock moved by $(SHIFT_DAYS) days: $$(LD_PRELOAD=$(abspath $(CLOCKSHIFT)) CLOCKSHIFT_SECONDS=$$(( $(SHIFT_DAYS) * 86400 )) date -u)"
	LD_PRELOAD=$(abspath $(CLOCKSHIFT)) CLOCKSHIFT_SECONDS=$$(( $(SHIFT_DAYS) * 86400 )) \
		$(BIN)/python -m pytest --durations=15 $(PYTEST_ARGS)

# Every hook in .pre-commit-config.yaml on every tracked file: ruff check, ruff format --check,
# mypy, whitespace and end of file, YAML/TOML syntax, merge markers, large files, private keys.
# Nothing is rewritten silently: a hook that would change a file fails and shows the diff.
lint: $(STAMP)
	$(BIN)/pre-commit run --all-files --show-diff-on-failure

# After changing dependencies in pyproject.toml: re-pins only what the change needs, keeping
# every other pin. `make lock UV_ARGS=--upgrade` moves every pin to the newest release,
# `make lock UV_ARGS="--upgrade-package NAME"` just one. requirements.lock (the Docker image:
# runtime dependencies and the build backend) is constrained by requirements-dev.lock (the
# venv: runtime + the dev extra), so the image runs the very versions the tests ran with.
LOCK_FOR     := For the Docker image: the runtime dependencies and the build backend (hatchling).
DEV_LOCK_FOR := For .venv (make demo, make test, CI): the runtime dependencies and the dev extra.
LOCK_FLAGS = --quiet --generate-hashes --universal --python-version 3.11 $(UV_ARGS)
lock_header = { printf '%s\n' \
	"\# $(2)" \
	"\# Every package pinned, with the hashes of its files, for every platform and Python 3.11+." \
	"\# Do not edit: after changing dependencies in pyproject.toml, refresh it with 'make lock'" \
	"\# (the Makefile tells how to upgrade pins)." \
	"\#"; cat $(1); } > $(1).tmp && mv $(1).tmp $(1)
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) -o $(DEV_LOCK)
	$(BIN)/uv pip compile pyproject.toml --group build -c $(DEV_LOCK) $(LOCK_FLAGS) -o $(LOCK)
	@$(call lock_header,$(DEV_LOCK),$(DEV_LOCK_FOR))
	@$(call lock_header,$(LOCK),$(LOCK_FOR))
	@echo "Refreshed $(LOCK) and $(DEV_LOCK); the next make rebuilds .venv from them."

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

# Growth (issue #14): 10,000 vs 100,000 readers on fresh stacks, an import and three daily
# editions sent into smtp-sink and compacted; figures side by side with their ratio.
# SCALE_ARGS="--sizes 10000 --editions 1" for a quicker look.
SCALE_ARGS ?=
scale: $(STAMP)
	$(BIN)/python -m bench.scale $(SCALE_ARGS)

# The fault suite at full size (issue #12): real Redis with AOF and the host-crash shim, real
# workers, a recording SMTP server; one table row per fault. FAULT_ARGS="--recipients 20000"
# or a subset ("worker_killed deploy"). The quick part (300 readers) runs in `make test`.
FAULT_ARGS ?= --recipients 5000
faults: $(STAMP)
	$(BIN)/python -m tests.faults $(FAULT_ARGS)

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
