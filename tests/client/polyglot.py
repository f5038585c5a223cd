"""Running another language's client tests against services the pytest test started."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from session_service.tokens.keyring import Keyring
from tests.client.conftest import target
from tests.conftest import ServiceFactory


async def start_services(start_service: ServiceFactory, pki_files: Mapping[str, str]) -> dict[str, str]:
    """Starts the services the Go and Java client tests expect, and names them in the
    environment variables those tests read: SESSION_TARGET (EdDSA keys, a refresh grace of
    one second), SESSION_TARGET_ES256 and _RS256, and SESSION_TLS_TARGET (mTLS) with the
    PEM files to reach it."""
    main = await start_service(refresh_grace=1)
    es256 = await start_service(keys=Keyring.generate("ES256"))
    rs256 = await start_service(keys=Keyring.generate("RS256"))
    tls = await start_service(
        tls_cert_file=pki_files["tls.crt"],
        tls_key_file=pki_files["tls.key"],
        tls_client_ca_file=pki_files["ca.crt"],
        dev=True,  # client certificates without a policy start only in development mode
    )
    return {
        "SESSION_TARGET": target(main),
        "SESSION_TARGET_ES256": target(es256),
        "SESSION_TARGET_RS256": target(rs256),
        "SESSION_TLS_TARGET": target(tls),
        "SESSION_CA_FILE": pki_files["ca.crt"],
        "SESSION_CLIENT_CERT_FILE": pki_files["client.crt"],
        "SESSION_CLIENT_KEY_FILE": pki_files["client.key"],
    }


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
