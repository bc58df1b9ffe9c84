# HA Ingestor. `make run` starts the whole system locally; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQUIREMENTS := requirements.txt requirements-dev.txt constraints.txt gateway-bridge/requirements.txt \
	functions/common/requirements.txt templates/python3-ingestor/requirements.txt functions/write/requirements.txt \
	functions/retention-archive/requirements.txt functions/context-poll/requirements.txt \
	$(wildcard functions/*/requirements.txt)
export PYTHONPATH := $(CURDIR)/functions/common:$(CURDIR)/infra/local:$(CURDIR)/gateway-bridge

PORT ?= 8080
NATS_PORT ?= 4222
STACK ?= stack.yml

.PHONY: setup run test lint test-servers ha-venv bench template build push deploy constraints clean

setup: $(STAMP)

$(STAMP): $(REQUIREMENTS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "HA Ingestor needs Python 3.11 (set PYTHON=...)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

run: setup
	$(PY) -m localfaas -f $(STACK) --port $(PORT) --nats-port $(NATS_PORT)

test: setup lint test-servers ha-venv
	$(PY) -m pytest

# The real Home Assistant the bridge tests start, in its own virtualenv (.venv-ha; ~2 min the first time).
ha-venv: setup
	$(PY) -m tests.support.homeassistant

# The real servers the store tests start and the dashboard tests' browser (Debian's packages); installed once, as root.
test-servers:
	@if ! command -v influxd >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" != 0 ]; then echo "install Debian's postgresql, influxdb and chromium (root needed)"; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql influxdb chromium >/dev/null; \
	fi

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) bench/pipeline_throughput.py
	$(PY) bench/bridge_throughput.py
	$(PY) bench/store_benchmark.py
	$(PY) bench/archive_benchmark.py

# faas-cli reads templates from ./template only: templates/ is the source.
template:
	rm -rf template && mkdir -p template && cp -r templates/* template/

build: template
	faas-cli build -f $(STACK)

push: template
	faas-cli push -f $(STACK)

deploy: template
	faas-cli deploy -f $(STACK)

constraints: setup
	{ echo '# Exact versions of everything installed, transitive dependencies included (regenerate: make constraints).'; \
	  $(PY) -m pip freeze --exclude-editable; } > constraints.txt

clean:
	rm -rf $(VENV) template build .data .pytest_cache .ruff_cache
