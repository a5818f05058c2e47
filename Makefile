# Slipway developer commands. The two you need: `make run` and `make test`.
#
#   make run    create .venv if needed, install, migrate, load demo data, start web + worker + beat
#   make test   install, then the whole pytest suite (browser tests included)
#   make lint   ruff
#   make bench  every benchmarks/*.py (but __init__.py and other _*.py)
#
# Embedded defaults (SQLite, filesystem broker, MLflow sqlite store, all under var/); export
# DATABASE_URL, REDIS_URL, MLFLOW_TRACKING_URI (see .env.example) to use real services.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := var/install.stamp
CHROMIUM ?= /usr/bin/chromium
URL := http://127.0.0.1:8000/
PYTEST_ARGS ?=

.PHONY: help install run test lint bench

help:
	@sed -n '1,/^$$/p' Makefile | sed -e 's/^# \{0,1\}//'

# The virtualenv and the pinned requirements. Skipped when var/install.stamp holds the hash
# of requirements.txt, requirements-lock.txt and pyproject.toml (the editable install's input).
install:
	@mkdir -p var
	if [ ! -x "$(BIN)/python" ]; then
	  if ! $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
	    echo "Slipway needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) -V 2>&1). Try: make PYTHON=python3.11 ..." >&2
	    exit 1
	  fi
	  echo "==> creating $(VENV) with $$($(PYTHON) -V)"
	  $(PYTHON) -m venv "$(VENV)"
	  rm -f "$(STAMP)"
	fi
	hash=$$(cat requirements.txt requirements-lock.txt pyproject.toml | sha256sum | cut -d' ' -f1)
	if [ "$$(cat "$(STAMP)" 2>/dev/null)" != "$$hash" ]; then
	  echo "==> installing requirements into $(VENV) (pip install -r requirements.txt -c requirements-lock.txt)"
	  "$(BIN)/python" -m pip install --disable-pip-version-check --quiet -r requirements.txt -c requirements-lock.txt
	  "$(BIN)/python" -m pip install --disable-pip-version-check --quiet --no-deps -e .
	  echo "$$hash" > "$(STAMP)"
	fi

run: install
	@export PATH="$(BIN):$$PATH"
	# .env (optional, see .env.example) configures the setup steps too, not only honcho's processes.
	if [ -f .env ]; then set -a; . ./.env; set +a; fi
	# Every process (gunicorn workers, Celery pool children) writes its samples here; /metrics
	# sums them. Stale files from a previous run would be summed too, so start empty.
	export PROMETHEUS_MULTIPROC_DIR="$(CURDIR)/var/prometheus"
	rm -rf "$$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$$PROMETHEUS_MULTIPROC_DIR"
	echo "==> migrating the database"
	python manage.py migrate --noinput -v0
	python manage.py collectstatic --noinput -v0
	python manage.py seed_demo --banner "$(URL)"
	exec honcho start -f Procfile

test: install
	@if [ ! -x "$(CHROMIUM)" ]; then
	  echo "make test: the browser tests drive Debian's Chromium at $(CHROMIUM), which is missing." >&2
	  echo "Install it with:  sudo apt-get install chromium   (Playwright never downloads a browser here)." >&2
	  exit 1
	fi
	unset PROMETHEUS_MULTIPROC_DIR
	export PATH="$(BIN):$$PATH"
	python manage.py collectstatic --noinput -v0
	"$(BIN)/pytest" $(PYTEST_ARGS)

lint: install
	@"$(BIN)/ruff" check .

bench: install
	@shopt -s nullglob
	export PATH="$(BIN):$$PATH" DJANGO_SETTINGS_MODULE=portal.settings
	scripts=()
	for script in benchmarks/*.py; do
	  case "$$(basename "$$script")" in _*) ;; *) scripts+=("$$script") ;; esac
	done
	if [ $${#scripts[@]} -eq 0 ]; then echo "No benchmarks/*.py yet."; exit 0; fi
	for script in "$${scripts[@]}"; do
	  echo "==> $$script"
	  python "$$script"
	done
