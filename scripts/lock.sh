#!/usr/bin/env bash
# Regenerates the lock files from the three pyproject.toml files (uv, offline-capable):
#   requirements/dev.lock      every third-party package `make test` and CI install;
#   requirements/runtime.lock  what the server image and `make run` install (a subset, same versions).
# Our own distributions are never in a lock file: they install from this checkout.
# With --check, fails when a lock file no longer matches the pyproject files.
set -euo pipefail
cd "$(dirname "$0")/.."

common=(--quiet --python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes
  --no-emit-package sessionsvc-wire --no-emit-package sessionsvc-client --no-emit-package sessionsvc-server
  --no-header --no-annotate)
out=requirements
if [[ "${1:-}" == "--check" ]]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  cp requirements/*.lock "$out"/  # uv keeps the versions already locked (no upgrade)
fi
uv pip compile "${common[@]}" pyproject.toml clients/pyproject.toml wire/pyproject.toml \
  --extra dev --extra speed -o "$out/dev.lock"
uv pip compile "${common[@]}" pyproject.toml wire/pyproject.toml --extra speed \
  -c "$out/dev.lock" -o "$out/runtime.lock"
if [[ "${1:-}" == "--check" ]]; then
  diff -u requirements/dev.lock "$out/dev.lock" && diff -u requirements/runtime.lock "$out/runtime.lock" || {
    echo "lock files are stale: run scripts/lock.sh and commit the result" >&2
    exit 1
  }
  echo "lock files are up to date"
fi
