"""The Go client (clients/go) against real services: `go test ./...` with the services
this test starts named in environment variables (see clients/go/sessionclient/service_test.go):
calls and typed errors, mTLS, and the local Verifier (every supported algorithm, a
revoked session refused within a second, an expired token on time, a stale feed refused,
a DPoP-bound token only with a valid proof by its key, a token bound by Exchange to a
client certificate only with that certificate)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from tests.client.polyglot import run_checked, start_services
from tests.conftest import ServiceFactory

GO_DIR = Path(__file__).resolve().parents[2] / "clients" / "go"


async def test_go_client_calls_verifies_and_types_errors_against_the_service(
    start_service: ServiceFactory, pki_files: dict[str, str], capsys: Any
) -> None:
    go = shutil.which("go")
    assert go, "Go is needed (the polyglot machines carry it)"
    env = await start_services(start_service, pki_files)
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
        "TestVerifierAcceptsADpopBoundTokenOnlyWithAFreshProofByItsKey",
        "TestVerifierAcceptsACertificateBoundTokenOnlyFromItsCertificate",
        "TestRequireTokenChecksTheDpopProofOfTheRequest",
    ):
        assert f"--- PASS: {name} " in out, f"{name} did not pass (or was skipped):\n{out}"
    with capsys.disabled():
        print(f"\n  go test ./... against the service: {time.monotonic() - started:.1f}s")


def test_docs_show_the_go_middleware_example_as_built() -> None:
    example = (GO_DIR / "examples" / "httpmiddleware" / "main.go").read_text()
    docs = (GO_DIR.parents[1] / "docs" / "clients.md").read_text()
    assert f"```go\n{example}```" in docs, "docs/clients.md: copy clients/go/examples/httpmiddleware/main.go"
