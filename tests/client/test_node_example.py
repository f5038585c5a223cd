"""The Node.js example (clients/node) against a running server: generated TypeScript
types compile, and Create, Introspect, local verification with jose, and Revoke work."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from session_service.tokens.keyring import Keyring
from tests.client.conftest import target
from tests.conftest import ServiceFactory

NODE_DIR = Path(__file__).resolve().parents[2] / "clients" / "node"


async def _run(*argv: str, timeout: float = 120) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=NODE_DIR, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode == 0, f"{argv}: {out.decode()}{err.decode()}"
    return out.decode()


@pytest.fixture(scope="module")
async def built_example() -> Path:
    """The example compiled with tsc (type-checking the generated types along the way)."""
    npm = shutil.which("npm")
    assert npm, "Node.js and npm are needed (make install sets them up)"
    assert (NODE_DIR / "node_modules").is_dir(), "run `make install` (npm ci in clients/node)"
    await _run(npm, "run", "--silent", "build")
    return NODE_DIR / "dist" / "example.js"


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256"])
async def test_node_example_creates_introspects_verifies_and_revokes(
    start_service: ServiceFactory, built_example: Path, algorithm: str
) -> None:
    r = await start_service(keys=Keyring.generate(algorithm))
    node = shutil.which("node")
    assert node
    out = await _run(node, str(built_example), target(r), timeout=30)
    steps = {s["step"]: s for s in map(json.loads, out.splitlines())}
    assert "error" not in steps, steps
    sid = steps["create"]["session_id"]
    assert steps["introspect"] == {
        "step": "introspect",
        "active": True,
        "sub": "node-example",
        "scope": "read",
    }
    assert steps["verify_locally"] == {
        "step": "verify_locally",
        "alg": algorithm,
        "sub": "node-example",
        "sid": sid,
    }
    assert steps["revoke"]["revoked_count"] == 1
    assert steps["introspect_after_revoke"]["active"] is False
