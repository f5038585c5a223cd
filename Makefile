# The two commands a newcomer needs: `make run` and `make test`. Both install what they
# need first (redis-server from Debian, the Python packages in editable mode, and the
# Helm/kubernetes-validate/hadolint used by the deployment tests).
PYTHON ?= python3
STAMP := .tools/.installed

.PHONY: install run test lint protos bench

$(STAMP): pyproject.toml clients/pyproject.toml
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server redis-tools nghttp2-client; }
	$(PYTHON) -m pip install -q -e ./clients -e '.[dev,speed]'
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
