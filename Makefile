# safecall: `make run` serves on embedded defaults; `make test` runs the whole suite
# against the real services it needs (installing and starting them when missing).

VENV    := .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
BIN     := $(VENV)/bin
export SAFECALL_VAR_DIR ?= var

.PHONY: run test check lint bench faults migration clean deploy-check

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Stamps: a second `make run` installs nothing and needs no network.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet --config-settings editable_mode=compat -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install --quiet --config-settings editable_mode=compat -e '.[test]'
	touch $@ $(VENV)/.installed

# The browser code's tools (ESLint, axe-core, puppeteer-core), pinned in package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: $(VENV)/.installed
	$(BIN)/safecall keys
	$(BIN)/safecall migrate
	$(BIN)/safecall serve

test: $(VENV)/.installed-test node_modules/.installed
	bash scripts/test-services.sh
	scripts/test.sh

# The deployment, whole (minutes; not part of `make test`): the images built from
# Debian's packages, the compose stack started with podman in a loopback-only
# namespace, a browser call through the TLS proxy, one node crashed mid-call.
deploy-check: $(VENV)/.installed-test node_modules/.installed
	npm run --silent lint
	bash scripts/test-services.sh
	bash scripts/deploy-services.sh
	scripts/build-images.sh
	scripts/in-netns.sh $(BIN)/pytest -p no:cacheprovider -m deploy tests/deploy

check: $(VENV)/.installed-test node_modules/.installed
	npm run --silent lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

bench: $(VENV)/.installed-test
	bash scripts/test-services.sh
	$(PY) -m bench

# The fault suite (minutes; not part of `make test`): two safecall nodes on a PostgreSQL
# cluster and Redis of its own, under load, through each fault of issue 14; prints the
# table (also var/faults.json). docs/operations.md, "The fault suite".
faults: $(VENV)/.installed-test
	$(PY) -m bench faults $(FAULTS_ARGS)

# Regenerate the initial schema from the models (nothing is deployed yet).
migration: $(VENV)/.installed
	rm -f /tmp/safecall-migration.db safecall/migrations/versions/0001_initial_schema.py
	$(PY) scripts/regen_migration.py
	$(BIN)/ruff format --quiet safecall/migrations/versions

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache node_modules
