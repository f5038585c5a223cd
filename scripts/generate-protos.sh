#!/usr/bin/env bash
# Regenerates the committed stubs from protos/: the Python stubs (and their .pyi typing
# stubs) in wire/session_wire/v1, the Node.js TypeScript types in clients/node/src/gen,
# the Go stubs in clients/go/sessionv1 and the Java stubs in clients/java/src/main/java.
# With --check, regenerates into a temporary folder and fails when the committed
# stubs differ, so CI catches a proto change whose stubs were not regenerated.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Python stubs live in the wire-contract distribution (wire/, package session_wire),
# which the server and the client both depend on.
out_pkg=wire/session_wire/v1
target=$out_pkg
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ "${1:-}" == "--check" ]]; then
  target=$work/check
fi

python -m grpc_tools.protoc -I protos \
  --python_out="$work" --grpc_python_out="$work" \
  --mypy_out="$work" --mypy_grpc_out="$work" \
  protos/session/v1/session.proto protos/session/v1/errors.proto
# errors.proto declares no service: its empty _grpc modules are noise.
rm -f "$work"/session/v1/errors_pb2_grpc.py "$work"/session/v1/errors_pb2_grpc.pyi

# protoc writes absolute imports rooted at the proto path ("from session.v1 import …");
# the stubs live in session_wire.v1, so the imports are rewritten to that package.
for f in "$work"/session/v1/*.py "$work"/session/v1/*.pyi; do
  sed -i -E 's/^from session\.v1 import /from session_wire.v1 import /; s/^import session\.v1\.(\w+)$/import session_wire.v1.\1/' "$f"
  sed -i -E 's/\bsession\.v1\.(session|errors)_pb2\./session_wire.v1.\1_pb2./g' "$f"
done
mkdir -p "$target"
find "$target" -maxdepth 1 -name '*_pb2*' -delete
cp "$work"/session/v1/*_pb2* "$target"/

# Envoy's external authorization API, the wire-compatible subset we declare ourselves
# (protos/envoy/README.md says why), flattened into session_wire.ext_authz. Its import of
# google/rpc/status.proto resolves to the copy in protos/ but gets no stubs of its own:
# the generated code imports google.rpc.status_pb2 from googleapis-common-protos.
authz_pkg=wire/session_wire/ext_authz
authz_target=$authz_pkg
if [[ "${1:-}" == "--check" ]]; then
  authz_target=$work/check_ext_authz
fi
envoy_protos=(envoy/config/core/v3/base.proto envoy/type/v3/http_status.proto
  envoy/service/auth/v3/attribute_context.proto envoy/service/auth/v3/external_auth.proto)
python -m grpc_tools.protoc -I protos \
  --python_out="$work" --grpc_python_out="$work" \
  --mypy_out="$work" --mypy_grpc_out="$work" \
  "${envoy_protos[@]/#/protos/}"
mkdir -p "$work/ext_authz"
for proto in "${envoy_protos[@]}"; do
  stem=${proto%.proto}
  for f in "$work/$stem"_pb2*; do
    # Only the file that declares a service keeps its _grpc modules.
    if [[ "$f" == *_pb2_grpc.* && "$stem" != */external_auth ]]; then continue; fi
    sed -E 's/^from envoy\.(config\.core|type|service\.auth)\.v3 import /from session_wire.ext_authz import /; s/^import envoy\.(config\.core|type|service\.auth)\.v3\.(\w+)$/import session_wire.ext_authz.\2/; s/\benvoy\.(config\.core|type|service\.auth)\.v3\.(\w+_pb2)\./session_wire.ext_authz.\2./g' \
      "$f" >"$work/ext_authz/$(basename "$f")"
  done
done
mkdir -p "$authz_target"
find "$authz_target" -maxdepth 1 -name '*_pb2*' -delete
cp "$work"/ext_authz/*_pb2* "$authz_target"/

# Node.js (clients/node): TypeScript types for the proto that the client loads at run
# time. The options must match LOADER_OPTIONS in clients/node/src/client.ts.
node_out=clients/node/src/gen
node_target=$node_out
if [[ "${1:-}" == "--check" ]]; then
  node_target=$work/node
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
  -I ../../protos -O "$node_target" session/v1/session.proto session/v1/errors.proto >/dev/null)

# Go (clients/go, module $go_module): the stubs in package sessionv1, by protoc-gen-go
# and protoc-gen-go-grpc at the versions pinned here, installed into .tools/go-bin when
# that holds another version or none (go install fetches them from the module proxy).
PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2
go_module=github.com/session-service/session-service/clients/go
go_bin=$PWD/.tools/go-bin
install_go_generator() { # name, package, version
  local installed
  installed=$("$go_bin/$1" --version 2>/dev/null | awk '{print $NF}' || true)
  if [[ "${installed#v}" != "${3#v}" ]]; then
    GOBIN=$go_bin go install "$2@$3"
  fi
}
install_go_generator protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
install_go_generator protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"
go_out=clients/go/sessionv1
go_target=$go_out
if [[ "${1:-}" == "--check" ]]; then
  go_target=$work/go/sessionv1
fi
# The protos name no go_package: the M options map each file to the sessionv1 package.
go_map=(--go_opt=Msession/v1/session.proto=$go_module/sessionv1 --go_opt=Msession/v1/errors.proto=$go_module/sessionv1
  --go-grpc_opt=Msession/v1/session.proto=$go_module/sessionv1 --go-grpc_opt=Msession/v1/errors.proto=$go_module/sessionv1)
mkdir -p "$work/go_gen"
python -m grpc_tools.protoc -I protos \
  --plugin=protoc-gen-go="$go_bin/protoc-gen-go" --plugin=protoc-gen-go-grpc="$go_bin/protoc-gen-go-grpc" \
  --go_out="$work/go_gen" --go_opt=module=$go_module --go-grpc_out="$work/go_gen" --go-grpc_opt=module=$go_module \
  "${go_map[@]}" protos/session/v1/session.proto protos/session/v1/errors.proto
mkdir -p "$go_target"
find "$go_target" -maxdepth 1 -name '*.pb.go' -delete
cp "$work"/go_gen/sessionv1/*.pb.go "$go_target"/

# Java (clients/java): the messages by protoc itself (Maven Central's
# com.google.protobuf:protoc, the version of the protobuf-java runtime clients/java/pom.xml
# pins), the service stub by Debian's grpc-java plugin (the protoc-gen-grpc-java binaries
# are not served by our Maven registry), both at the versions pinned here and installed
# when missing. The protos name no Java package: the copies compiled here get one.
PROTOC_VERSION=4.36.2
GRPC_JAVA_PLUGIN_VERSION=1.41.3+ds-1
protoc_java=$PWD/.tools/java-bin/protoc-$PROTOC_VERSION-linux-x86_64.exe
if [[ ! -x "$protoc_java" ]]; then
  mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.11.0:copy \
    -Dartifact=com.google.protobuf:protoc:$PROTOC_VERSION:exe:linux-x86_64 -DoutputDirectory="$(dirname "$protoc_java")"
  chmod +x "$protoc_java"
fi
if [[ "$(dpkg-query -W -f='${Version}' protobuf-compiler-grpc-java-plugin 2>/dev/null || true)" != "$GRPC_JAVA_PLUGIN_VERSION" ]]; then
  apt-get update -qq && apt-get install -y -qq "protobuf-compiler-grpc-java-plugin=$GRPC_JAVA_PLUGIN_VERSION" >/dev/null
fi
java_out=clients/java/src/main/java/io/github/sessionservice/v1
java_target=$java_out
if [[ "${1:-}" == "--check" ]]; then
  java_target=$work/java/v1
fi
mkdir -p "$work/java_protos/session/v1" "$work/java_gen"
for proto in session errors; do
  sed 's/^package session\.v1;$/package session.v1;\n\noption java_package = "io.github.sessionservice.v1";\noption java_multiple_files = true;/' \
    "protos/session/v1/$proto.proto" >"$work/java_protos/session/v1/$proto.proto"
done
# google/protobuf/timestamp.proto comes with grpcio-tools.
well_known=$(python -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')
"$protoc_java" -I "$work/java_protos" -I "$well_known" \
  --plugin=protoc-gen-grpc-java=/usr/bin/grpc_java_plugin \
  --java_out="$work/java_gen" --grpc-java_out="$work/java_gen" \
  "$work/java_protos/session/v1/session.proto" "$work/java_protos/session/v1/errors.proto"
# That plugin's @javax.annotation.Generated needs a library Java 17 lacks; @GrpcGenerated stays.
sed -i '/^@javax\.annotation\.Generated($/,/comments = /d' "$work/java_gen/io/github/sessionservice/v1/SessionServiceGrpc.java"
rm -rf "$java_target"
mkdir -p "$java_target"
cp "$work"/java_gen/io/github/sessionservice/v1/*.java "$java_target"/

if [[ "${1:-}" == "--check" ]]; then
  if ! diff -r -x __pycache__ -x __init__.py "$target" "$out_pkg" \
    || ! diff -r -x __pycache__ -x __init__.py "$authz_target" "$authz_pkg" \
    || ! diff -r "$node_target" "$node_out" \
    || ! diff -r "$go_target" "$go_out" \
    || ! diff -r "$java_target" "$java_out"; then
    echo "generated stubs are stale: run scripts/generate-protos.sh and commit the result" >&2
    exit 1
  fi
  echo "generated stubs are up to date"
fi
