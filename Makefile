# Two commands for a newcomer: `make run` starts the whole system, `make test` runs every test.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin
SERVICES := intake review documents shipping
export UV_PYTHON_DOWNLOADS := never

.PHONY: help setup run test chaos bench lint format asyncapi check-broker clean

help:
	@echo "make run    - set everything up and start the four services, the citizens' portal and the simulators"
	@echo "make test   - set everything up and run all the tests (needs local RabbitMQ, PostgreSQL and Redis)"
	@echo "make bench  - the benchmark against its baselines (~12 min; needs RabbitMQ with management, PostgreSQL)"
	@echo "make lint   - ruff, and the architecture's import contracts (import-linter)"
	@echo "make asyncapi - regenerate each service's event catalogue, services/*/asyncapi.json, from the code"

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version)); set PYTHON=python3.12 or similar"; exit 1; }
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml shared/pyproject.toml $(wildcard services/*/pyproject.toml) $(wildcard tools/*/pyproject.toml)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

setup: $(VENV)/.synced

check-broker: setup
	@$(BIN)/python -c "$$CHECK_BROKER"

define CHECK_BROKER
import os, shutil, socket, subprocess, sys, time
from urllib.parse import urlsplit
url = urlsplit(os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/"))
management = urlsplit(os.environ.get("RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672"))
def reachable(host, port):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return True
    except OSError:
        return False
if not reachable(url.hostname, url.port or 5672):
    sys.exit(
        f"RabbitMQ is not reachable at {url.hostname}:{url.port or 5672}.\n"
        "Start one, then run `make run` again:\n"
        "  - installed locally (Debian/Ubuntu: apt-get install rabbitmq-server): rabbitmq-server -detached\n"
        "  - with Docker: docker compose --profile dev up -d rabbitmq (see docs/deployment.md)\n"
        "or point AMQP_URL at a running broker."
    )
if not reachable(management.hostname, management.port or 15672):
    # Provisioning the services' broker users (and onboarding agencies) goes through the management API.
    if shutil.which("rabbitmq-plugins") and url.hostname in ("localhost", "127.0.0.1"):
        print("enabling RabbitMQ's management plugin (rabbitmq-plugins enable rabbitmq_management)")
        subprocess.run(["rabbitmq-plugins", "enable", "rabbitmq_management"], check=False, capture_output=True)
        for _ in range(60):
            if reachable(management.hostname, management.port or 15672):
                break
            time.sleep(0.5)
    if not reachable(management.hostname, management.port or 15672):
        sys.exit(
            f"RabbitMQ's management API is not reachable at {management.hostname}:{management.port or 15672}: "
            "`make run` gives each service its own broker user through it.\n"
            "Enable it on the broker's machine: rabbitmq-plugins enable rabbitmq_management\n"
            "(or point RABBITMQ_MANAGEMENT_URL at it), then run `make run` again."
        )
endef
export CHECK_BROKER

run: check-broker
	@mkdir -p var/log
	@$(BIN)/python -m dukcapil_shared.messaging.provision apply --passwords-dir var/broker
	@trap 'echo; echo "stopping..."; kill $$(jobs -p) 2>/dev/null || true; wait' EXIT INT TERM; \
	export ENVIRONMENT=development; \
	$(BIN)/python -m dukcapil_devtools.courier_simulator >> var/log/simulator.log 2>&1 & \
	$(BIN)/python -m dukcapil_devtools.register_simulator >> var/log/register-simulator.log 2>&1 & \
	$(BIN)/python -m dukcapil_devtools.message_sinks >> var/log/message-sinks.log 2>&1 & \
	$(BIN)/python -m dukcapil_web >> var/log/web.log 2>&1 & \
	for service in $(SERVICES); do \
	  env "$${service^^}_BROKER_PASSWORD_FILE=var/broker/$$service.password" \
	    $(BIN)/python -m dukcapil_$$service >> var/log/$$service.log 2>&1 & \
	done; \
	for probe in 8001/readyz 8002/readyz 8003/readyz 8004/readyz 8000/readyz 8010/healthz 8011/healthz 8012/healthz; do \
	  for attempt in $$(seq 120); do \
	    curl -sf -o /dev/null http://127.0.0.1:$$probe && break; \
	    if [ $$attempt = 120 ]; then echo "http://127.0.0.1:$$probe did not become ready; see var/log/*.log:"; tail -n 5 var/log/*.log; exit 1; fi; \
	    sleep 0.5; \
	  done; \
	done; \
	echo; \
	echo "Disdukcapil Lebak is running in development mode (SQLite files in var/, RabbitMQ at $${AMQP_URL:-amqp://localhost:5672/}):"; \
	echo "  portal     http://127.0.0.1:8000  the citizens' web pages (docs/web.md)"; \
	echo "  intake     http://127.0.0.1:8001  docs http://127.0.0.1:8001/docs"; \
	echo "  review     http://127.0.0.1:8002  docs http://127.0.0.1:8002/docs"; \
	echo "  documents  http://127.0.0.1:8003  docs http://127.0.0.1:8003/docs"; \
	echo "  shipping   http://127.0.0.1:8004  docs http://127.0.0.1:8004/docs"; \
	echo "  courier simulator (JNE API shape) http://127.0.0.1:8010"; \
	echo "  population register simulator (SIAK lookup shape, synthetic residents) http://127.0.0.1:8012/docs"; \
	echo "  notices sent to citizens (SMTP sink :8025, SMS gateway simulator) http://127.0.0.1:8011/messages"; \
	echo "Each service signs in to RabbitMQ as its own user (dukcapil-<service>, passwords in var/broker/)."; \
	echo "Logs: var/log/*.log. Walk a request through with the commands in README.md and docs/walkthroughs.md. Ctrl-C stops everything."; \
	wait

# The chaos suite runs on its own, after the rest: it restarts the shared RabbitMQ.
test: setup
	$(BIN)/ruff check --quiet .
	$(BIN)/lint-imports --no-logo --no-cache >/dev/null || $(BIN)/lint-imports --no-logo --no-cache
	$(BIN)/pytest
	$(BIN)/pytest -m chaos tests/chaos

# Only the fault-injection suite: kills services, restarts RabbitMQ, duplicates and poisons messages (~4 min).
chaos: setup
	$(BIN)/pytest -m chaos tests/chaos

# The benchmark (bench/, docs/performance.md): the real system and its baselines side by side, about twelve
# minutes. Options go in BENCH_ARGS, e.g. make bench BENCH_ARGS="--backlog 100000 --mix biodata_wni=3,kartu_keluarga=1".
bench: check-broker
	$(UV) sync --frozen --group bench --python $(PYTHON)
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo --no-cache

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Each service's AsyncAPI document, from its code; tests/test_event_catalogue.py fails while one is out of date.
asyncapi: setup
	$(BIN)/python -m dukcapil_shared.catalogue $(SERVICES)

clean:
	rm -rf var .tools $(VENV)
