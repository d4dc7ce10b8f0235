PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test clean

$(BIN)/asyncsafe-lint: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -qq --upgrade pip
	$(BIN)/pip install -qq -e '.[dev]'
	touch $@

demo: $(BIN)/asyncsafe-lint
	@echo '$$ asyncsafe-lint check fixtures_app'
	@$(BIN)/asyncsafe-lint check fixtures_app || true
	@echo
	@echo '$$ asyncsafe-lint check fixtures_app --statistics'
	@$(BIN)/asyncsafe-lint check fixtures_app --statistics || true
	@echo
	@echo '$$ pytest demo --asyncsafe   # fixtures_app under real Uvicorn (the lint item is off: shown above)'
	@$(BIN)/python -m pytest demo --asyncsafe -o asyncsafe_lint=false -p no:cacheprovider || true

test: $(BIN)/asyncsafe-lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .asyncsafe_cache build dist
