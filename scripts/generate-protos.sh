#!/usr/bin/env bash
# Regenerates the committed Python stubs (and their .pyi typing stubs) from protos/.
# With --check, regenerates into a temporary folder and fails when the committed
# stubs differ, so CI catches a proto change whose stubs were not regenerated.
set -euo pipefail
cd "$(dirname "$0")/.."

out_pkg=clients/session_client/_gen
target=$out_pkg
if [[ "${1:-}" == "--check" ]]; then
  target=$(mktemp -d)
  trap 'rm -rf "$target"' EXIT
fi

rm -rf "$target/session"
mkdir -p "$target"
python -m grpc_tools.protoc -I protos \
  --python_out="$target" --grpc_python_out="$target" \
  --mypy_out="$target" --mypy_grpc_out="$target" \
  protos/session/v1/session.proto

# protoc writes absolute imports rooted at the proto path ("from session.v1 import …");
# the stubs live inside session_client, so the imports are made package-relative.
for f in "$target"/session/v1/*.py "$target"/session/v1/*.pyi; do
  sed -i -E 's/^from session\.v1 import /from session_client._gen.session.v1 import /; s/^import session\.v1\.session_pb2$/import session_client._gen.session.v1.session_pb2/' "$f"
  sed -i -E 's/\bsession\.v1\.session_pb2\./session_client._gen.session.v1.session_pb2./g' "$f"
done
touch "$target/session/__init__.py" "$target/session/v1/__init__.py"

if [[ "${1:-}" == "--check" ]]; then
  if ! diff -r -x __pycache__ "$target/session" "$out_pkg/session"; then
    echo "generated stubs are stale: run scripts/generate-protos.sh and commit the result" >&2
    exit 1
  fi
  echo "generated stubs are up to date"
fi
