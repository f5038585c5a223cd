"""The Node.js example (clients/node) against a running server: generated TypeScript
types compile, and Create, Introspect, local verification with jose, and Revoke work, in
plaintext, over mTLS, and over TLS with a bearer caller token."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from session_service.tokens.keyring import Keyring
from tests.client.conftest import target
from tests.conftest import ServiceFactory

NODE_DIR = Path(__file__).resolve().parents[2] / "clients" / "node"
# What the example calls: a policy entry for its caller must allow these.
EXAMPLE_RPCS = ["Create", "Introspect", "IntrospectBatch", "GetJwks", "Revoke"]


async def _exec(
    *argv: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> tuple[int | None, str, str]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=NODE_DIR,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode, out.decode(), err.decode()


async def _run(*argv: str, env: Mapping[str, str] | None = None, timeout: float = 120) -> str:
    returncode, out, err = await _exec(*argv, env=env, timeout=timeout)
    assert returncode == 0, f"{argv}: {out}{err}"
    return out


def _steps(out: str) -> dict[str, dict[str, Any]]:
    steps = {s["step"]: s for s in map(json.loads, out.splitlines())}
    assert "error" not in steps, steps
    return steps


def _node() -> str:
    node = shutil.which("node")
    assert node
    return node


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
    steps = _steps(await _run(_node(), str(built_example), target(r), timeout=30))
    sid = steps["create"]["session_id"]
    assert steps["introspect"] == {
        "step": "introspect",
        "active": True,
        "sub": "node-example",
        "scope": "read",
    }
    assert steps["introspect_batch"]["active"] == [True, False]
    assert steps["verify_locally"] == {
        "step": "verify_locally",
        "alg": algorithm,
        "sub": "node-example",
        "sid": sid,
    }
    assert steps["revoke"]["revoked_count"] == 1
    assert steps["introspect_after_revoke"]["active"] is False


async def test_node_example_calls_over_mtls_with_certificate_flags(
    start_service: ServiceFactory, built_example: Path, pki_files: dict[str, str]
) -> None:
    r = await start_service(
        tls_cert_file=pki_files["tls.crt"],
        tls_key_file=pki_files["tls.key"],
        tls_client_ca_file=pki_files["ca.crt"],
        dev=True,  # client certificates without a policy start only in development mode
    )
    flags = ["--ca", pki_files["ca.crt"], "--cert", pki_files["client.crt"], "--key", pki_files["client.key"]]
    out = await _run(_node(), str(built_example), f"localhost:{r.service.port}", *flags, timeout=30)
    steps = _steps(out)
    assert steps["revoke"]["revoked_count"] == 1
    # Without the client certificate the handshake refuses the example.
    returncode, out, _ = await _exec(
        _node(), str(built_example), f"localhost:{r.service.port}", "--ca", pki_files["ca.crt"], timeout=30
    )
    assert returncode != 0
    assert "error" in {s["step"] for s in map(json.loads, out.splitlines())}


async def test_node_example_sends_a_caller_token_over_tls_from_environment_variables(
    start_service: ServiceFactory, built_example: Path, pki_files: dict[str, str], tmp_path: Path
) -> None:
    # A caller-token issuer like a cluster's service-account issuer, and a policy that
    # lets only its service account call what the example calls.
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="sa-1", alg="ES256", use="sig")
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    caller = "system:serviceaccount:shop:node-example"
    (tmp_path / "policy.json").write_text(json.dumps({"callers": {caller: EXAMPLE_RPCS}}))
    issuer, audience = "https://kubernetes.default.svc", "session-service"
    now = int(time.time())
    claims = {"sub": caller, "iss": issuer, "aud": audience, "iat": now, "exp": now + 600}
    (tmp_path / "token").write_text(jwt.encode(claims, key, algorithm="ES256", headers={"kid": "sa-1"}))
    r = await start_service(
        tls_cert_file=pki_files["tls.crt"],
        tls_key_file=pki_files["tls.key"],
        caller_jwks_file=str(tmp_path / "jwks.json"),
        caller_issuer=issuer,
        caller_audience=audience,
        authz_policy_file=str(tmp_path / "policy.json"),
    )
    env = {
        "SESSION_TARGET": f"127.0.0.1:{r.service.port}",
        "SESSION_CA_FILE": pki_files["ca.crt"],
        "SESSION_SERVER_NAME": "localhost",
        "SESSION_CALLER_TOKEN_FILE": str(tmp_path / "token"),
    }
    steps = _steps(await _run(_node(), str(built_example), env=env, timeout=30))
    assert steps["introspect_after_revoke"]["active"] is False
    # The policy admits nobody else: without the token every call is refused.
    returncode, out, _ = await _exec(
        _node(), str(built_example), env={**env, "SESSION_CALLER_TOKEN_FILE": ""}, timeout=30
    )
    assert returncode != 0
    (error,) = [s for s in map(json.loads, out.splitlines()) if s["step"] == "error"]
    assert "UNAUTHENTICATED" in error["message"], error
