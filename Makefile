# The two commands a newcomer needs: `make run` and `make test`. Both install what they
# need first (redis-server from Debian, the Python packages in editable mode, the Node.js
# client's npm packages, and the Helm/kubernetes-validate/hadolint used by the deployment tests).
PYTHON ?= python3
STAMP := .tools/.installed

.PHONY: install run test lint protos bench

$(STAMP): pyproject.toml clients/pyproject.toml clients/node/package-lock.json
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server redis-tools nghttp2-client; }
	@command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
	$(PYTHON) -m pip install -q -e ./clients -e '.[dev,speed]'
	cd clients/node && npm ci --no-audit --no-fund --loglevel=error
	PYTHON=$(PYTHON) bash scripts/install-deploy-tools.sh .tools
	@mkdir -p .tools && touch $(STAMP)

install: $(STAMP)

run: install
	session-service serve

test: install
	./scripts/test.sh

lint: install
	./scripts/test.sh --lint-only

protos: install
	./scripts/generate-protos.sh

bench: install
	$(PYTHON) bench/rpc_throughput.py
