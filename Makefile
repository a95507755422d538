# Two commands matter: `make run` and `make test`. Both bootstrap .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test soak generate check-generated typecheck bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Start the server (embedded PostgreSQL under .data/ unless DATABASE_URL is set).
run: $(STAMP)
	exec $(PY) -m server

## The whole suite against a real PostgreSQL and a real gRPC server.
test: $(STAMP) check-generated typecheck
	$(PY) -m pytest

## Three minutes of mixed traffic (make test runs six seconds of it).
soak: $(STAMP)
	AWOOOP_SOAK_SECONDS=$${AWOOOP_SOAK_SECONDS:-180} $(PY) -m pytest -p no:cacheprovider tests/server/test_soak.py

## Types of the service code (the generated stubs come with .pyi files).
typecheck: $(STAMP)
	$(PY) -m mypy

## Regenerate generated/ from protos/.
generate: $(STAMP)
	$(PY) scripts/generate_protos.py generated

## Fail when the committed stubs differ from what protos/ generates.
check-generated: $(STAMP)
	@tmp=$$(mktemp -d) && $(PY) scripts/generate_protos.py $$tmp/generated >/dev/null 2>&1 \
	  && diff -rq -x __pycache__ generated $$tmp/generated \
	  || { echo "generated/ is stale: run 'make generate' and commit it"; rm -rf $$tmp; exit 1; }; \
	  rm -rf $$tmp

## Benchmarks; prints ratios against baselines measured in the same run.
bench: $(STAMP)
	$(PY) -m bench $(BENCH)

## Lint the contract.
lint:
	cd protos && npx --yes @bufbuild/buf lint

clean:
	rm -rf $(VENV) .data .pytest_cache
