"""The Java client (clients/java) against real services: `mvn test` with the services
this test starts named in environment variables (see ServiceTest.java): calls and typed
errors, mTLS, the local Verifier (every supported algorithm, a revoked session refused
within a second, an expired token on time, a stale feed refused, a DPoP-bound token only
with a valid proof by its key, a token bound by Exchange to a client certificate only with
that certificate) and the example gRPC interceptor."""

from __future__ import annotations

import re
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tests.client.polyglot import run_checked, start_services
from tests.conftest import ServiceFactory

JAVA_DIR = Path(__file__).resolve().parents[2] / "clients" / "java"
EXAMPLE = JAVA_DIR / "src" / "test" / "java" / "io" / "github" / "sessionservice" / "examples"
REPORTS = JAVA_DIR / "target" / "surefire-reports"
REQUIRED = (
    "callsAndTypedErrors",
    "verifierRefusesARevokedSessionWithinASecond",
    "verifierRefusesAnExpiredTokenOnTime",
    "verifierWithAStaleFeedRefusesWithinTheBound",
    "mutualTls",
    "accessTokenInterceptorPutsTheVerifiedUserInTheContext",
    "verifierAcceptsADpopBoundTokenOnlyWithAFreshProofByItsKey",
    "verifierAcceptsACertificateBoundTokenOnlyFromItsCertificate",
    "accessTokenInterceptorChecksTheDpopProofOfTheCall",
)
"""ServiceTest methods that must have run and passed (not skipped)."""


async def test_java_client_calls_verifies_and_types_errors_against_the_service(
    start_service: ServiceFactory, pki_files: dict[str, str], capsys: Any
) -> None:
    mvn = shutil.which("mvn")
    assert mvn, "Maven is needed (the polyglot machines carry it)"
    env = await start_services(start_service, pki_files)
    started = time.monotonic()
    out = await run_checked([mvn, "-B", "-q", "test"], cwd=JAVA_DIR, env=env, timeout=240)
    reports = {path.name: path.read_text() for path in REPORTS.glob("*.txt")}
    summary = re.compile(r"Tests run: (\d+), Failures: (\d+), Errors: (\d+), Skipped: (\d+)")
    counts = {name: tuple(map(int, summary.findall(text)[0])) for name, text in reports.items()}
    service = counts["io.github.sessionservice.client.ServiceTest.txt"]
    assert service[0] >= 8 and service[1:] == (0, 0, 0), (counts, out)
    # Surefire's report of the build just run, not outside input.
    report = ET.parse(REPORTS / "TEST-io.github.sessionservice.client.ServiceTest.xml")  # noqa: S314
    failed = {"failure", "error", "skipped"}
    passed = {
        case.get("name", "").removesuffix("()")
        for case in report.iter("testcase")
        if not any(child.tag in failed for child in case)
    }
    missing = [name for name in REQUIRED if name not in passed]
    assert not missing, f"did not pass (or were skipped): {missing}\n{out}"
    with capsys.disabled():
        print(f"\n  mvn test against the service: {time.monotonic() - started:.1f}s")


def test_docs_show_the_java_interceptor_example_as_built() -> None:
    example = (EXAMPLE / "AccessTokenInterceptor.java").read_text()
    docs = (JAVA_DIR.parents[1] / "docs" / "clients.md").read_text()
    assert f"```java\n{example}```" in docs, "docs/clients.md: copy AccessTokenInterceptor.java"
