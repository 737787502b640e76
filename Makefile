# The two quick-start targets are `make demo` and `make test`; everything else supports them.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint typecheck matrix docs unit integration bench fuzz mutate clean

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,typing,lint,netlink,bundle,matrix,docs]'
	touch $(STAMP)

## Run the reference debug plugin through a whole ADD, CHECK, DEL cycle and show what happened.
demo: venv
	$(PY) examples/demo.py

## The whole suite: lint (ruff, the import layers), strict type checking, the documentation site, the unit suite on
## every supported Python found, then every test (integration tests need root).
test: venv lint typecheck docs matrix
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: venv
	$(PY) -m mypy --strict rscni_py tests examples benchmarks

## The guides and the API reference as a site in site/; --strict: a broken link or reference fails the build.
docs: venv
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

## The unit suite under each of Python 3.10 to 3.13 that this machine has (noxfile.py finds them).
matrix: venv
	$(VENV)/bin/nox

unit: venv
	$(PY) -m pytest -q -m 'not integration'

integration: venv
	$(PY) -m pytest -q -m integration

bench: venv
	$(PY) benchmarks/run.py

## 10 000 fuzzed invocations of the dispatcher, with counts per outcome.
fuzz: venv
	$(PY) benchmarks/fuzz_dispatch.py

## Mutation score of the protocol core (cosmic-ray): kill ratio per module and every survivor. Not in `make test`:
## about half an hour on two cores. JOBS=1 for a quieter machine.
JOBS ?= 2
mutate: venv
	$(PY) -m pip install --quiet -e '.[mutation]'
	$(PY) tests/mutation/run.py --jobs $(JOBS)

clean:
	rm -rf $(VENV) .nox site build dist *.egg-info .mypy_cache .pytest_cache .hypothesis tests/integration/.build
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
