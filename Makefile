# The two commands a newcomer needs: `make run` and `make test`. Both create the environment.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
# mysqlclient (a compiled extra) is installed only when the MySQL path is asked for.
EXTRAS := $(if $(findstring mysql,$(DATABASE_URL)),--extra mysql,)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run worker test lint format checks bench bench-ingest clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

install: $(UV)
	$(UV) sync --frozen $(EXTRAS)

## Serve the API, the docs (/api/docs/) and the admin on SQLite, with a Celery worker on a
## folder broker: no server to install. Ctrl-C stops both.
# Signed storage URLs and email links point at the address the server is started on.
# Ctrl-C reaches the server and the worker themselves (one process group), so the INT trap
# only waits for them; a TERM or HUP to the recipe is passed on, and the server ending alone
# stops the worker. The server runs in the background (so a trap runs at once, not after it)
# with SIGINT given back: bash starts background jobs with it ignored, and Python would then
# ignore Ctrl-C. (`trap 'kill 0' EXIT INT TERM` also signalled its own shell, whose TERM trap
# ran again, recursing until bash crashed: "Segmentation fault".)
run: export PICPICK_PUBLIC_URL ?= http://$(HOST):$(PORT)
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	@$(VENV)/bin/celery -A picpick worker --beat --schedule var/celerybeat-schedule \
		-Q default,media,faces,billing --concurrency 2 --loglevel INFO & worker=$$!; \
	(trap - INT; exec $(PY) manage.py runserver $(HOST):$(PORT)) & server=$$!; \
	trap 'trap - INT TERM HUP; wait; exit 0' INT; \
	trap 'trap - INT TERM HUP; kill -TERM $$server $$worker 2>/dev/null; wait; exit 0' TERM HUP; \
	wait $$server; kill -TERM $$worker 2>/dev/null; wait $$worker

worker: install
	$(VENV)/bin/celery -A picpick worker -Q default,media,faces,billing --loglevel INFO

## The whole suite: SQLite by default; MariaDB and Redis when DATABASE_URL / REDIS_URL are set.
test: install
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## What CI checks besides the tests: deploy checks on production settings, no missing
## migrations, and an OpenAPI schema that generates without a warning.
checks: $(UV)
	$(UV) sync --frozen --extra mysql
	DJANGO_SETTINGS_MODULE=picpick.settings.production \
	DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(64))')} \
	PICPICK_API_HOSTS=$${PICPICK_API_HOSTS:-api.picpick.example} \
	PICPICK_BASE_DOMAIN=$${PICPICK_BASE_DOMAIN:-picpick.example} \
	DATABASE_URL=$${DATABASE_URL:-mysql://root@127.0.0.1:3306/picpick} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} \
		$(PY) manage.py check --deploy --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py spectacular --validate --fail-on-warn --file var/openapi.yaml

## Benchmarks: writes bench/results.json and prints a table.
bench: install
	$(PY) -m bench

## The event proof, opt-in (minutes; about twice the event's size in disk): the uploader pushes
## real DNG files to the whole service under load and faults. `make bench-ingest SIZE=50GB`;
## set DATABASE_URL=mysql://... for the production path. Its rows join bench/results.json.
bench-ingest: install
	$(PY) -m bench ingest $(if $(SIZE),--size $(SIZE),)

clean:
	rm -rf $(VENV) .tools var .pytest_cache .ruff_cache
