# The two commands a newcomer needs: `make run` and `make test`. Both install what they
# need first: redis-server, h2load, nginx and Caddy from Debian, the third-party Python
# packages from the lock file (hash-checked), this repository's three distributions in editable mode,
# the Node.js client's npm packages, and Helm for the deployment tests.
PYTHON ?= python3
STAMP := .tools/.installed

.PHONY: install run test test-fast lint protos lock bench

$(STAMP): pyproject.toml clients/pyproject.toml wire/pyproject.toml setup.py clients/setup.py \
		requirements/dev.lock clients/node/package-lock.json
	@# Each tool on its own: a machine may have redis-server but not h2load. nginx-light
	@# and caddy are the real gateways of tests/gateway (nginx lives in /usr/sbin).
	@missing=""; \
	for tool in redis-server:redis-server redis-cli:redis-tools h2load:nghttp2-client npm:npm \
	    nginx:nginx-light caddy:caddy; do \
	  command -v $${tool%%:*} >/dev/null || [ -x /usr/sbin/$${tool%%:*} ] || missing="$$missing $${tool#*:}"; \
	done; \
	if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq $$missing; fi
	$(PYTHON) -m pip install -q --require-hashes -r requirements/dev.lock
	@# --no-deps: every dependency came from the lock above; ours come from this checkout.
	$(PYTHON) -m pip install -q --no-deps -e ./wire -e ./clients -e .
	cd clients/node && npm ci --no-audit --no-fund --loglevel=error
	PYTHON=$(PYTHON) bash scripts/install-deploy-tools.sh .tools
	@mkdir -p .tools && touch $(STAMP)

install: $(STAMP)

run: install
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
	$(PYTHON) bench/rpc_throughput.py
	$(PYTHON) bench/gateway_throughput.py
