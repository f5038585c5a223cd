"""Running another language's client tests against services the pytest test started."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from session_service.tokens.keyring import Keyring
from tests.certs import CertificateAuthority
from tests.client.conftest import target
from tests.conftest import ServiceFactory

GATEWAY = "spiffe://cluster.local/ns/shop/sa/gateway-api"
"""The caller that may Exchange user tokens for orders-api tokens bound to its certificate."""
ORDERS = "spiffe://cluster.local/ns/shop/sa/orders-api"
"""The service that verifies those tokens (audience orders-api)."""


async def start_services(start_service: ServiceFactory, pki_files: Mapping[str, str]) -> dict[str, str]:
    """Starts the services the Go and Java client tests expect, and names them in the
    environment variables those tests read: SESSION_TARGET (EdDSA keys, a refresh grace of
    one second), SESSION_TARGET_ES256 and _RS256, SESSION_TLS_TARGET (mTLS) with the
    PEM files to reach it, and SESSION_EXCHANGE_TARGET (mTLS with an authorization
    policy: GATEWAY may Exchange for orders-api, ORDERS may verify) with its own CA and
    the certificates of the two callers (SESSION_EXCHANGE_GATEWAY_CERT_FILE and _KEY_FILE,
    SESSION_EXCHANGE_ORDERS_CERT_FILE and _KEY_FILE)."""
    main = await start_service(refresh_grace=1)
    es256 = await start_service(keys=Keyring.generate("ES256"))
    rs256 = await start_service(keys=Keyring.generate("RS256"))
    tls = await start_service(
        tls_cert_file=pki_files["tls.crt"],
        tls_key_file=pki_files["tls.key"],
        tls_client_ca_file=pki_files["ca.crt"],
        dev=True,  # client certificates without a policy start only in development mode
    )
    exchange_env = await _start_exchange_service(start_service, Path(pki_files["ca.crt"]).parent / "exchange")
    return {
        **exchange_env,
        "SESSION_TARGET": target(main),
        "SESSION_TARGET_ES256": target(es256),
        "SESSION_TARGET_RS256": target(rs256),
        "SESSION_TLS_TARGET": target(tls),
        "SESSION_CA_FILE": pki_files["ca.crt"],
        "SESSION_CLIENT_CERT_FILE": pki_files["client.crt"],
        "SESSION_CLIENT_KEY_FILE": pki_files["client.key"],
    }


async def _start_exchange_service(start_service: ServiceFactory, folder: Path) -> dict[str, str]:
    ca = CertificateAuthority()
    server_cert, server_key = ca.issue_server().write(folder, "server")
    env = {"SESSION_EXCHANGE_CA_FILE": str(ca.write(folder))}
    for identity, name in ((GATEWAY, "GATEWAY"), (ORDERS, "ORDERS")):
        cert, key = ca.issue_client(uri=identity).write(folder, name.lower())
        env[f"SESSION_EXCHANGE_{name}_CERT_FILE"] = str(cert)
        env[f"SESSION_EXCHANGE_{name}_KEY_FILE"] = str(key)
    policy = {
        "callers": {
            GATEWAY: {
                "rpcs": ["Create", "Exchange", "GetJwks"],
                "exchange": {"audiences": ["orders-api"], "scopes": ["orders:read"]},
            },
            ORDERS: {"rpcs": ["GetJwks", "WatchRevocations", "Introspect"]},
        }
    }
    (folder / "policy.json").write_text(json.dumps(policy))
    running = await start_service(
        tls_cert_file=str(server_cert),
        tls_key_file=str(server_key),
        tls_client_ca_file=env["SESSION_EXCHANGE_CA_FILE"],
        authz_policy_file=str(folder / "policy.json"),
        allow_unauthenticated_callers=False,
    )
    return env | {"SESSION_EXCHANGE_TARGET": f"localhost:{running.service.port}"}


async def run_checked(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float) -> str:
    """Runs ``argv`` in ``cwd`` with ``env`` added to ours; fails the test, with its
    output, when it fails or outlasts ``timeout`` seconds; returns its output."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"{' '.join(argv)} did not finish within {timeout}s") from None
    text = out.decode(errors="replace")
    assert process.returncode == 0, f"{' '.join(argv)} exited {process.returncode}:\n{text}"
    return text
