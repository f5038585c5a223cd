"""The Go client (clients/go) against real services: `go test ./...` with the services
this test starts named in environment variables (see clients/go/sessionclient/service_test.go):
calls and typed errors, mTLS, and the local Verifier (every supported algorithm, a
revoked session refused within a second, an expired token on time, a stale feed refused)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from session_service.tokens.keyring import Keyring
from tests.client.conftest import target
from tests.client.polyglot import run_checked
from tests.conftest import ServiceFactory

GO_DIR = Path(__file__).resolve().parents[2] / "clients" / "go"


async def test_go_client_calls_verifies_and_types_errors_against_the_service(
    start_service: ServiceFactory, pki_files: dict[str, str], capsys: Any
) -> None:
    go = shutil.which("go")
    assert go, "Go is needed (the polyglot machines carry it)"
    main = await start_service(refresh_grace=1)
    es256 = await start_service(keys=Keyring.generate("ES256"))
    rs256 = await start_service(keys=Keyring.generate("RS256"))
    tls = await start_service(
        tls_cert_file=pki_files["tls.crt"],
        tls_key_file=pki_files["tls.key"],
        tls_client_ca_file=pki_files["ca.crt"],
        dev=True,  # client certificates without a policy start only in development mode
    )
    env = {
        "SESSION_TARGET": target(main),
        "SESSION_TARGET_ES256": target(es256),
        "SESSION_TARGET_RS256": target(rs256),
        "SESSION_TLS_TARGET": target(tls),
        "SESSION_CA_FILE": pki_files["ca.crt"],
        "SESSION_CLIENT_CERT_FILE": pki_files["client.crt"],
        "SESSION_CLIENT_KEY_FILE": pki_files["client.key"],
    }
    started = time.monotonic()
    out = await run_checked([go, "test", "-count=1", "-v", "./..."], cwd=GO_DIR, env=env, timeout=240)
    for name in (
        "TestCallsAndTypedErrors",
        "TestVerifierRefusesARevokedSessionWithinASecond",
        "TestVerifierRefusesAnExpiredTokenOnTime",
        "TestVerifierWithAStaleFeedRefusesWithinTheBound",
        "TestMutualTLS",
        "TestEveryErrorReasonHasASentinel",
        "TestRequireTokenPutsTheVerifiedUserInTheContext",
    ):
        assert f"--- PASS: {name} " in out, f"{name} did not pass (or was skipped):\n{out}"
    with capsys.disabled():
        print(f"\n  go test ./... against the service: {time.monotonic() - started:.1f}s")


def test_docs_show_the_go_middleware_example_as_built() -> None:
    example = (GO_DIR / "examples" / "httpmiddleware" / "main.go").read_text()
    docs = (GO_DIR.parents[1] / "docs" / "clients.md").read_text()
    assert f"```go\n{example}```" in docs, "docs/clients.md: copy clients/go/examples/httpmiddleware/main.go"
