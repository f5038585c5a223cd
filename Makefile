# The two commands a newcomer needs: `make run` and `make test`. Both install what they
# need first, into a virtualenv this Makefile makes (.venv/, ignored by git), whose bin/
# comes first on the PATH of every target below.
#
#   make run   the third-party packages the service runs on (requirements/runtime.lock,
#              hash-checked), this repository's three distributions in editable mode
#              (so `sessionctl` is there too), and redis-server from Debian;
#   make test  that, plus the test tools (requirements/dev.lock), h2load, nginx and Caddy
#              from Debian, the Node.js client's npm packages, the Go client's modules,
#              the Java client's Maven dependencies, and Helm for the deployment tests.
PYTHON ?= python3
VENV := .venv
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(VIRTUAL_ENV)/bin:$(PATH)
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: install install-run run test test-fast lint protos lock bench

# Debian's python3 makes virtualenvs only with python3-venv (ensurepip) installed.
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV) && apt-get update -qq \
	  && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }

# Each tool on its own: a machine may have redis-server but not h2load (nginx lives in /usr/sbin).
define apt_install_missing
	@missing=""; \
	for tool in $(1); do \
	  command -v $${tool%%:*} >/dev/null || [ -x /usr/sbin/$${tool%%:*} ] || missing="$$missing $${tool#*:}"; \
	done; \
	if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq $$missing; fi
endef

$(RUN_STAMP): $(VENV)/bin/python requirements/runtime.lock pyproject.toml setup.py \
		clients/pyproject.toml clients/setup.py wire/pyproject.toml
	$(call apt_install_missing,redis-server:redis-server)
	python -m pip install -q --disable-pip-version-check --require-hashes -r requirements/runtime.lock
	@# --no-deps: every dependency came from the lock above; ours come from this checkout.
	python -m pip install -q --disable-pip-version-check --no-deps -e ./wire -e ./clients -e .
	@# The lock is the server's; the client's dependencies must be among them for sessionctl.
	python -m pip check -q --disable-pip-version-check
	@touch $@

$(TEST_STAMP): $(RUN_STAMP) requirements/dev.lock clients/node/package-lock.json clients/go/go.sum \
		clients/java/pom.xml
	@# nginx-light and caddy are the real gateways of tests/gateway.
	$(call apt_install_missing,redis-cli:redis-tools h2load:nghttp2-client npm:npm nginx:nginx-light caddy:caddy)
	python -m pip install -q --disable-pip-version-check --require-hashes -r requirements/dev.lock
	cd clients/node && npm ci --no-audit --no-fund --loglevel=error
	@# The Go client's modules, into Go's module cache (kept between runs on a machine).
	cd clients/go && go mod download
	@# The Java client's dependencies and plugins, into ~/.m2 (kept between runs on a machine).
	cd clients/java && mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.11.0:go-offline
	PYTHON=python bash scripts/install-deploy-tools.sh .tools
	@touch $@

install-run: $(RUN_STAMP)

install: $(TEST_STAMP)

run: install-run
	session-service serve

test: install
	./scripts/test.sh

# Unit tests and the single-Redis integration tests only: well under a minute.
test-fast: install
	./scripts/test.sh --fast

lint: install
	./scripts/test.sh --lint-only

protos: install
	./scripts/generate-protos.sh

lock: install
	./scripts/lock.sh

bench: install
	python bench/rpc_throughput.py
	python bench/gateway_throughput.py
