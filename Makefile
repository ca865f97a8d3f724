# Incident Center. `make run` to try it, `make test` to test it. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1

# Python 3.12+ (Django 6): PYTHON=... wins; else the newest of pyenv's 3.13/3.12, then PATH.
PYTHON ?= $(shell for p in $$(ls -d $$(pyenv root 2>/dev/null)/versions/3.1[3-9]* $$(pyenv root 2>/dev/null)/versions/3.12* 2>/dev/null | sort -rV) ; do [ -x $$p/bin/python ] && echo $$p/bin/python && exit; done; \
	for c in python3.14 python3.13 python3.12 python3; do p=$$(command -v $$c) && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && echo $$p && exit; done)

# Development defaults for `make run`; any of them can be set in the environment instead.
export DEBUG ?= 1
export DJANGO_SETTINGS_MODULE ?= incidentcenter.settings

.PHONY: help venv install run worker beat migrate seed test test-unit test-browser lint format check-deploy bench clean

help:
	@echo "make run      install, migrate, load demo data and serve http://$(HOST):$(PORT)"
	@echo "make test     the whole test suite (REQUIRE_SERVICES=1: nothing may skip)"
	@echo "make lint     ruff and mypy"
	@echo "make worker   a Celery worker for this host (needs REDIS_URL)"
	@echo "make beat     Celery beat (needs REDIS_URL)"
	@echo "make bench    the benchmarks under benchmarks/"

$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then echo "No Python 3.12 or newer found. Install one (pyenv install 3.12) or pass PYTHON=/path/to/python3.12." >&2; exit 1; fi
	@echo "Using $(PYTHON) ($$($(PYTHON) --version))"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

venv install: $(VENV)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

run: seed
	@echo "Incident Center on http://$(HOST):$(PORT)  (demo users: responder, manager, comms, admin)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

worker: install
	@if [ -z "$$REDIS_URL" ]; then echo "make worker needs REDIS_URL (without it, tasks run inside make run)." >&2; exit 1; fi
	$(BIN)/celery -A incidentcenter worker --loglevel=INFO -Q default,host.$$($(BIN)/python -c 'import django; django.setup(); from django.conf import settings; print(settings.INCIDENTCENTER_HOST)')

beat: install
	@if [ -z "$$REDIS_URL" ]; then echo "make beat needs REDIS_URL." >&2; exit 1; fi
	$(BIN)/celery -A incidentcenter beat --loglevel=INFO --schedule=var/celerybeat-schedule

# Unit, service, view and websocket tests first; browser tests in their own run (Playwright's
# sync API leaves an event loop behind that later async tests trip over). pytest's exit status 5
# means it collected no test (say, a selection with none in it): that is not a failure.
test: install
	$(BIN)/pytest -m "not browser" || [ $$? -eq 5 ]
	$(BIN)/pytest -m browser || [ $$? -eq 5 ]

test-unit: install
	$(BIN)/pytest -m "not browser" || [ $$? -eq 5 ]

test-browser: install
	$(BIN)/pytest -m browser || [ $$? -eq 5 ]

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check-deploy: install
	DEBUG=0 SECRET_KEY=$$(openssl rand -hex 32) ALLOWED_HOSTS=incidents.example.com EMAIL_HOST=smtp.example.com \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

# Benchmarks print their figure beside a baseline measured in the same run. The last four need
# PostgreSQL and Redis (DATABASE_URL, REDIS_URL) and take a few minutes each.
bench: install
	$(BIN)/python benchmarks/board_queries.py
	$(BIN)/python benchmarks/timeline_page.py
	$(BIN)/python benchmarks/status_page.py
	@if [ -z "$$REDIS_URL" ]; then echo "Set REDIS_URL for the health and escalation benchmarks." >&2; exit 1; fi
	$(BIN)/python benchmarks/health_sampler_cpu.py
	$(BIN)/python benchmarks/health_fanout.py
	$(BIN)/python benchmarks/escalation_timing.py
	$(BIN)/python benchmarks/remediation_dispatch.py
	$(BIN)/python benchmarks/remediation_backup_restore.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
