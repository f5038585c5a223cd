#!/usr/bin/env bash
# Regenerates the committed stubs from protos/: the Python stubs (and their .pyi typing
# stubs) in clients/session_client/_gen, and the Node.js TypeScript types in clients/node/src/gen.
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

# Node.js (clients/node): TypeScript types for the proto that the client loads at run
# time. The options must match LOADER_OPTIONS in clients/node/src/client.ts.
node_out=clients/node/src/gen
node_target=$node_out
if [[ "${1:-}" == "--check" ]]; then
  node_target=$target/node
fi
node_target=$(realpath -m "$node_target")
rm -rf "$node_target"
gen_types=clients/node/node_modules/.bin/proto-loader-gen-types
if [[ ! -x "$gen_types" ]]; then
  echo "$gen_types not found: run make install (npm ci in clients/node)" >&2
  exit 1
fi
(cd clients/node && node_modules/.bin/proto-loader-gen-types --grpcLib=@grpc/grpc-js \
  --keepCase --longs=String --enums=String --defaults --oneofs --includeComments \
  -I ../../protos -O "$node_target" session/v1/session.proto >/dev/null)

if [[ "${1:-}" == "--check" ]]; then
  if ! diff -r -x __pycache__ "$target/session" "$out_pkg/session" || ! diff -r "$node_target" "$node_out"; then
    echo "generated stubs are stale: run scripts/generate-protos.sh and commit the result" >&2
    exit 1
  fi
  echo "generated stubs are up to date"
fi
