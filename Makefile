# The IOC platform. `make run` for a first look, `make test` for the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# The integration pass of `make test`; pytest-django creates and drops test_<name>.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
# Modules whose types mypy checks (house rule 11).
TYPED := ioc cameras dashboards services

.PHONY: run serve test lint bench messages clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@ $(STAMP)

## run: the embedded city on http://127.0.0.1:8000 (SQLite under var/, no other services)
run: $(STAMP)
	env -u DATABASE_URL -u REDIS_URL $(PY) manage.py run_embedded

## serve: the production-shaped stack from DATABASE_URL and REDIS_URL (web, workers, beat)
serve: $(STAMP)
	@test -n "$$DATABASE_URL" || { echo "Set DATABASE_URL (postgres://...)"; exit 2; }
	@test -n "$$REDIS_URL" || { echo "Set REDIS_URL (redis://...)"; exit 2; }
	$(PY) manage.py migrate --noinput
	IOC_STATIC_MANIFEST=1 $(PY) manage.py collectstatic --noinput -v0
	mkdir -p $${IOC_VAR_DIR:-var}
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" IOC_VAR_DIR=$${IOC_VAR_DIR:-$(CURDIR)/var} IOC_WS_PORT=$${IOC_WS_PORT:-8001} $(VENV)/bin/supervisord -c deploy/supervisord.conf

## lint: ruff, formatting, Django checks, migrations, mypy
lint: $(DEV_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	env -u DATABASE_URL -u REDIS_URL $(PY) manage.py check --fail-level WARNING
	env -u DATABASE_URL -u REDIS_URL $(PY) manage.py makemigrations --check --dry-run
	env -u DATABASE_URL -u REDIS_URL $(PY) -m mypy $(TYPED)

## test: lint, then the suite on SQLite (unit), then on PostgreSQL + Redis (everything)
test: lint
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest -m "not integration" -p no:cacheprovider
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest -m "not embedded" -p no:cacheprovider

## bench: benchmarks that print figures (not part of the test command)
bench: $(DEV_STAMP)
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

## messages: refresh the translation catalogues after changing interface text
messages: $(DEV_STAMP)
	$(PY) manage.py makemessages -l vi -l en --no-obsolete --ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*' --ignore 'bench/*'
	$(PY) manage.py compilemessages --ignore '.venv/*'

clean:
	rm -rf $(VENV) var/ioc.sqlite3* var/static
