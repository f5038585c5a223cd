#!/usr/bin/env bash
# The whole check: stubs up to date, buf lint, ruff, mypy --strict, then the test suite
# (unit, integration against real redis-server processes the fixtures start themselves).
set -euo pipefail
cd "$(dirname "$0")/.."

fast=()
if [[ "${1:-}" == "--fast" ]]; then
  # Unit tests and the single-Redis integration tests: the quick loop while developing.
  shift
  fast=(-m "(unit or integration) and not cluster and not slow")
fi

echo "== lock files"
./scripts/lock.sh --check
echo "== generated stubs"
./scripts/generate-protos.sh --check
echo "== buf lint"
buf lint
echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy --strict"
mypy
if [[ "${1:-}" == "--lint-only" ]]; then
  exit 0
fi
echo "== pytest"
# A hung test fails after 5 minutes instead of stalling CI; the thread method also
# reports where it hung.
python -m pytest -q -p no:cacheprovider --timeout 300 --timeout-method=thread "${fast[@]}" "$@"
