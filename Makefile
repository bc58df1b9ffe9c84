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
export PYTHONPATH := $(CURDIR)/functions/common:$(CURDIR)/infra/connector:$(CURDIR)/infra/local:$(CURDIR)/gateway-bridge

PORT ?= 8080
NATS_PORT ?= 4222
STACK ?= stack.yml

.PHONY: setup run demo test lint test-servers ha-venv tools bench template build push deploy secrets validate-manifests constraints audit clean

setup: $(STAMP)

$(STAMP): $(REQUIREMENTS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "HA Ingestor needs Python 3.11 (set PYTHON=...)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

run: setup
	$(PY) -m localfaas -f $(STACK) --port $(PORT) --nats-port $(NATS_PORT)

# A sandbox Home Assistant (the tests' real HA, .venv-ha) with a believable home, the whole stack against it and a
# driver that lives in it; prints the dashboard URL. State in .data/demo; `.venv/bin/python -m demo --fresh` forgets it.
demo: setup ha-venv
	$(PY) -m demo

test: setup lint test-servers ha-venv
	@if command -v go >/dev/null; then tools/build-tools.sh; else echo "no Go: the tests of OpenFaaS's gateway and MinIO skip"; fi
	$(PY) -m pytest

# OpenFaaS's gateway and MinIO, built from their Go modules at the versions tools/go/*/go.mod pin, into .tools/bin
# (Go's caches in TOOLS_CACHE, default ~/.cache/ha-ingestor-go: a second run builds nothing). docs/deploy.md.
tools:
	tools/build-tools.sh

# The real Home Assistant the bridge tests start, in its own virtualenv (.venv-ha; ~2 min the first time).
ha-venv: setup
	$(PY) -m tests.support.homeassistant

# The real servers the tests start, the dashboard tests' browser and the Prometheus beside OpenFaaS's gateway
# (Debian's packages); installed once, as root.
test-servers:
	@if ! command -v influxd >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! command -v chromium >/dev/null \
	    || ! command -v prometheus >/dev/null; then \
	  if [ "$$(id -u)" != 0 ]; then echo "install Debian's postgresql, influxdb, chromium and prometheus (root needed)"; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql influxdb chromium >/dev/null \
	    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	fi

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) bench/pipeline_throughput.py
	$(PY) bench/hop_costs.py
	$(PY) bench/bridge_throughput.py
	$(PY) bench/bridge_failover.py
	$(PY) bench/store_benchmark.py
	$(PY) bench/influx_layout_benchmark.py
	$(PY) bench/archive_benchmark.py
	$(PY) bench/webhook_dispatch.py
	$(PY) bench/store_outage_recovery.py
	$(PY) bench/query_latency.py
	$(PY) bench/energy_benchmark.py
	mkdir -p .data && $(PY) bench/alert_evaluation.py --url sqlite:///$(CURDIR)/.data/bench-alerts.db
	$(PY) bench/footprint.py
	$(PY) bench/dashboard_first_chart.py
	$(PY) bench/e2e_latency.py
	$(PY) bench/openfaas_gateway.py

# faas-cli reads templates from ./template only: templates/ is the source.
template:
	rm -rf template && mkdir -p template && cp -r templates/* template/

build: template
	faas-cli build -f $(STACK)

push: template
	faas-cli push -f $(STACK)

# Deploys stack.yml to OPENFAAS_URL; logs in first when OPENFAAS_PASSWORD or OPENFAAS_PASSWORD_FILE is given
# (faasd: /var/lib/faasd/secrets/basic-auth-password; k3s: the basic-auth secret in openfaas). docs/deploy.md.
deploy: template
	@command -v faas-cli >/dev/null || { echo "faas-cli not found: curl -sSL https://cli.openfaas.com | sh"; exit 1; }
	@test -n "$$OPENFAAS_URL" || { echo "set OPENFAAS_URL to the gateway, e.g. OPENFAAS_URL=http://127.0.0.1:8080"; exit 1; }
	@pw="$${OPENFAAS_PASSWORD:-}"; if [ -z "$$pw" ] && [ -n "$${OPENFAAS_PASSWORD_FILE:-}" ]; then pw="$$(cat "$$OPENFAAS_PASSWORD_FILE")"; fi; \
	  if [ -n "$$pw" ]; then printf '%s' "$$pw" | faas-cli login --gateway "$$OPENFAAS_URL" \
	    --username "$${OPENFAAS_USER:-admin}" --password-stdin; fi
	faas-cli deploy -f $(STACK) --gateway "$$OPENFAAS_URL"

# Every secret the functions and services use, from .secrets/ (missing ones generated): PLATFORM=k3s|faasd.
PLATFORM ?= k3s
secrets:
	infra/$(PLATFORM)/create-secrets.sh

# Offline checks of infra/ and stack.yml: yamllint, Kubernetes schemas, compose schema.
validate-manifests: setup
	$(VENV)/bin/yamllint -c .yamllint.yaml infra stack.yml
	$(PY) -m pytest -q tests/deploy/test_manifests.py tests/deploy/test_stack_consistency.py

constraints: setup
	{ echo '# Exact versions of everything installed, transitive dependencies included (regenerate: make constraints).'; \
	  $(PY) -m pip freeze --exclude-editable; } > constraints.txt

# The pins (constraints.txt) against published advisories with pip-audit; exit 1 on a known vulnerability,
# "offline: not checked" when no advisory service answers. Not in `make test`: its verdict changes with the world.
audit: setup
	$(PY) tools/audit.py

clean:
	rm -rf $(VENV) template build .data .pytest_cache .ruff_cache
