PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The two ends of the supported range, each in a virtualenv of its own (see docs/development.md, "Installs and supported versions").
LATEST := .venv-latest
LOWEST := .venv-lowest
# The documentation site's tools (the `docs` group of uv.lock), apart from .venv: `uv sync`
# makes .venv exactly the default groups, and would remove them at each `make test`.
DOCS := .venv-docs

# uv installs exactly what uv.lock pins.  It is bootstrapped with the venv's pip at the
# version the lock pins for it, so the lock is the one place that names a version.
UV_VERSION = $(shell sed -n '/^name = "uv"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' uv.lock)
# Use the Python that made the venv, never one uv would download.
export UV_PYTHON_DOWNLOADS := never
# Compile every installed module at install time, as pip does: uv does not by default,
# and then each server process the tests start compiles what it imports (a second or
# more), and a route's first request what it imports lazily - a stall of its own.
export UV_COMPILE_BYTECODE := 1
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: demo test fuzz test-latest test-lowest test-pythons lock clean bytecode docs dist

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --disable-pip-version-check "uv==$(UV_VERSION)"

# `--locked`: a pyproject.toml edited without `make lock` is an error, not a silent re-pin.
$(BIN)/asyncsafe-lint: pyproject.toml uv.lock | $(BIN)/uv
	$(BIN)/uv sync --locked --quiet
	touch $@

# The project's own modules, compiled once: every server and pytest process the tests
# start imports them, and where the environment forbids writing bytecode at import
# (PYTHONDONTWRITEBYTECODE, as on CI) each would compile them again: the suite took
# 543 s from a fresh clone without it, 516 s with it.  Bytecode is checked against its
# source's mtime and size, so an edited file is compiled afresh.
bytecode: $(BIN)/asyncsafe-lint
	$(BIN)/python -m compileall -q src fixtures_app demo tests bench

demo: $(BIN)/asyncsafe-lint bytecode
	@echo '$$ asyncsafe-lint check fixtures_app'
	@$(BIN)/asyncsafe-lint check fixtures_app || true
	@echo
	@echo '$$ asyncsafe-lint check fixtures_app --statistics'
	@$(BIN)/asyncsafe-lint check fixtures_app --statistics || true
	@echo
	@echo '$$ pytest demo --asyncsafe --asyncsafe-html demo-report.html   # fixtures_app under real Uvicorn (the lint item is off: shown above)'
	@$(BIN)/python -m pytest demo --asyncsafe --asyncsafe-html demo-report.html -o asyncsafe_lint=false -p no:cacheprovider || true
	@echo "# the run above as one page with its charts: open $(CURDIR)/demo-report.html in a browser"
	@echo
	@echo '$$ pytest demo --asyncsafe --asyncsafe-server gunicorn --asyncsafe-workers 2 -k "not load and not ledger and not ping and not drain"'
	@echo '# the stall tests again, under Gunicorn with two Uvicorn workers, as production runs the app'
	@$(BIN)/python -m pytest demo --asyncsafe --asyncsafe-server gunicorn --asyncsafe-workers 2 -k "not load and not ledger and not ping and not drain" -o asyncsafe_lint=false -p no:cacheprovider || true

# The suite in two runs: the tests whose verdicts do not depend on how busy the machine
# is (the linter's, the import graph's, drains, options...) on both cores with
# pytest-xdist, then those marked `machine` - stall thresholds, latency budgets,
# capacities - one at a time, as their verdicts need the machine to themselves, and
# those marked `single_threaded`, which fork, as a process with xdist's threads must not.
# Together they are the whole of `tests/`.
SERIAL := machine or single_threaded
suite = $(1)/python -m pytest -n 2 -m "not ($(SERIAL))" && $(1)/python -m pytest -m "$(SERIAL)"

# Type-check src/ (mypy strict, configured in pyproject.toml), then the suite.
test: $(BIN)/asyncsafe-lint bytecode
	$(BIN)/mypy
	$(call suite,$(BIN))

# The linter on generated programs (tests/lint/test_fuzz.py), FUZZ_EXAMPLES of each kind
# with a fresh seed: `make test` runs the same few every time.  A failure prints the
# program, shrunk, and the `@reproduce_failure` blob that replays it.
FUZZ_EXAMPLES ?= 10000
fuzz: $(BIN)/asyncsafe-lint
	ASYNCSAFE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/lint/test_fuzz.py -p no:cacheprovider --hypothesis-show-statistics

# The suite against the newest release of every package, looked up afresh each time
# (uv.lock is not read): what a user who installs today gets.
test-latest: $(BIN)/asyncsafe-lint bytecode
	$(call fresh-venv,$(LATEST),--refresh --resolution highest)
	$(call suite,$(LATEST)/bin)

# The suite against the lowest release that each declared range allows (their own
# dependencies as new as those allow).
test-lowest: $(BIN)/asyncsafe-lint bytecode
	$(call fresh-venv,$(LOWEST),--resolution lowest-direct)
	$(call suite,$(LOWEST)/bin)

# The suite on every Python 3.11+ this machine has (.ci/pythons.py finds them on PATH and
# in pyenv; nothing is downloaded), each in a virtualenv .venv-<version> with what uv.lock
# pins, the plugin's real servers included: the asyncio, signal handling and bytecode they
# rely on differ between versions.
test-pythons: $(BIN)/asyncsafe-lint
	@pythons="$$($(PYTHON) .ci/pythons.py)" || exit 1; \
	echo "$$pythons" | while read -r version python; do \
		echo "== Python $$version: $$python"; \
		UV_PROJECT_ENVIRONMENT=.venv-$$version $(BIN)/uv sync --locked --quiet --python "$$python" || exit 1; \
		.venv-$$version/bin/python -m compileall -q src fixtures_app demo tests bench || exit 1; \
		$(call suite,.venv-$$version/bin) || exit 1; \
	done

# A new virtualenv $(1) with the package, its extras and the dev group, resolved by uv with $(2).
define fresh-venv
	rm -rf $(1)
	$(PYTHON) -m venv --without-pip $(1)
	$(BIN)/uv pip install --quiet --python $(1)/bin/python $(2) -e '.[uvloop,gunicorn,report]' --group dev
	$(BIN)/uv pip list --python $(1)/bin/python --format freeze | grep -iE '^(click|httpx|libcst|pytest|uvicorn|uvloop|gunicorn|uvicorn-worker|fastapi|starlette|anyio|plotly|playwright)=='
endef

# The documentation site, into build/site, from the pages as committed (the generated
# ones, docs/rules.md, docs/reference.md and linter.md's rule table, are checked against
# the code by the suite).  --strict fails the build on any warning, among them a link to a
# page or an anchor that does not exist (mkdocs.yml, `validation`): that is the link
# check.  External links are not fetched: the site builds, and reads, offline.
docs: $(BIN)/asyncsafe-lint
	UV_PROJECT_ENVIRONMENT=$(DOCS) $(BIN)/uv sync --locked --quiet --only-group docs --python $(BIN)/python
	NO_MKDOCS_2_WARNING=1 $(DOCS)/bin/mkdocs build --strict

# The sdist and the wheel, into dist/, as a release uploads them.
dist: | $(BIN)/uv
	rm -rf dist
	$(BIN)/uv build --out-dir dist

# After editing the dependencies in pyproject.toml: pin them again.
lock: | $(BIN)/uv
	$(BIN)/uv lock

clean:
	rm -rf $(VENV) $(LATEST) $(LOWEST) $(DOCS) .venv-3.* .pytest_cache .mypy_cache .asyncsafe_cache .hypothesis build dist
