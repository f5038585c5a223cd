"""AuditLog: one JSON object per line with the documented fields, and no secrets; the
service's events name what they concern."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from session_wire.v1 import session_pb2 as pb

from session_service.audit import AUDIT_LOGGER_NAME, AuditLog
from session_service.domain.ids import new_session_id
from session_service.tokens.refresh import RefreshTokenCodec, RefreshTokenKeys
from tests.conftest import ServiceFactory, expect_error

CALLER = "spiffe://cluster.local/ns/shop/sa/login"
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


class FixedClock:
    """Always 2027-01-15T08:00:00.678Z."""

    def now_ms(self) -> int:
        return 1_800_000_000_678


def emitted(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The audit lines written so far, each parsed as one JSON object."""
    entries = []
    for record in caplog.records:
        if record.name == AUDIT_LOGGER_NAME:
            line = record.getMessage()
            assert "\n" not in line
            entry = json.loads(line)
            assert isinstance(entry, dict)
            entries.append(entry)
    return entries


@pytest.fixture
def audit(caplog: pytest.LogCaptureFixture) -> Iterator[AuditLog]:
    with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER_NAME):
        yield AuditLog(clock=FixedClock())


def test_every_event_has_event_time_and_caller(audit: AuditLog, caplog: pytest.LogCaptureFixture) -> None:
    session_id = str(new_session_id("alice"))
    audit.session_created(CALLER, "alice", session_id, "web")
    audit.sessions_revoked(CALLER, "user_id", "alice", 3, "revoke")
    audit.refresh_token_reuse_detected(session_id, "alice")
    audit.session_evicted("alice", [session_id])
    audit.caller_denied(None, "Create", "CALLER_UNAUTHENTICATED")
    audit.signing_key_loaded("key-2026", "EdDSA")
    entries = emitted(caplog)
    assert [e["event"] for e in entries] == [
        "session_created",
        "sessions_revoked",
        "refresh_token_reuse_detected",
        "session_evicted",
        "caller_denied",
        "signing_key_loaded",
    ]
    for entry in entries:
        assert entry["time"] == "2027-01-15T08:00:00.678Z"
        assert RFC3339_UTC.fullmatch(entry["time"])
        assert "caller" in entry
    assert entries[0] == {
        "event": "session_created",
        "time": "2027-01-15T08:00:00.678Z",
        "caller": CALLER,
        "user_id": "alice",
        "session_id": session_id,
        "client_id": "web",
    }
    assert entries[1] | {"time": None} == {
        "event": "sessions_revoked",
        "time": None,
        "caller": CALLER,
        "target_kind": "user_id",
        "target": "alice",
        "count": 3,
        "reason": "revoke",
    }
    assert entries[2]["caller"] is None and entries[2]["session_id"] == session_id
    assert entries[3]["session_ids"] == [session_id]
    assert entries[4] | {"time": None} == {
        "event": "caller_denied",
        "time": None,
        "caller": None,
        "rpc": "Create",
        "reason": "CALLER_UNAUTHENTICATED",
    }
    assert entries[5]["kid"] == "key-2026" and entries[5]["algorithm"] == "EdDSA"


def test_system_clock_time_is_rfc3339_utc(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER_NAME):
        AuditLog().signing_key_loaded("k", "ES256")
    (entry,) = emitted(caplog)
    assert RFC3339_UTC.fullmatch(entry["time"])


def test_revoked_token_targets_log_only_the_session_id(
    audit: AuditLog, caplog: pytest.LogCaptureFixture
) -> None:
    session_id = new_session_id("bob")
    refresh_token = RefreshTokenCodec(RefreshTokenKeys.generate()).issue(session_id, 1)
    access_token = "eyJhbGciOiJFZERTQSJ9.eyJzaWQiOiJ4In0.c2lnbmF0dXJlLXNlY3JldA"
    audit.sessions_revoked(CALLER, "refresh_token", str(session_id), 1, "revoke")
    # Passed the token by mistake: only its session id, or nothing, reaches the log.
    audit.sessions_revoked(CALLER, "refresh_token", str(refresh_token), 1, "revoke")
    audit.sessions_revoked(CALLER, "access_token", access_token, 1, "revoke")
    audit.sessions_revoked(CALLER, "session_id", str(refresh_token), 0, "revoke")
    entries = emitted(caplog)
    assert [e["target"] for e in entries] == [str(session_id), str(session_id), None, None]
    assert [e["target_kind"] for e in entries] == [
        "refresh_token",
        "refresh_token",
        "access_token",
        "session_id",
    ]
    text = caplog.text
    assert str(refresh_token) not in text
    assert str(refresh_token).rsplit(".", 1)[1] not in text
    assert access_token not in text
    assert "c2lnbmF0dXJlLXNlY3JldA" not in text


def test_events_are_added_to_the_recording_span(audit: AuditLog) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(__name__)
    with tracer.start_as_current_span("Revoke"):
        audit.sessions_revoked(CALLER, "user_id", "alice", 2, "revoke")
        audit.session_created(None, "alice", "s", None)
    audit.signing_key_loaded("outside", "EdDSA")  # no span: nothing to add to, nothing fails
    provider.shutdown()
    (span,) = exporter.get_finished_spans()
    assert [event.name for event in span.events] == ["sessions_revoked", "session_created"]
    revoked, created = span.events
    assert dict(revoked.attributes or {}) == {
        "caller": CALLER,
        "target_kind": "user_id",
        "target": "alice",
        "count": 2,
        "reason": "revoke",
    }
    # Null fields are left out: OpenTelemetry attributes cannot be None.
    assert dict(created.attributes or {}) == {"user_id": "alice", "session_id": "s"}


def test_nothing_is_formatted_when_the_audit_logger_is_off(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=AUDIT_LOGGER_NAME):
        AuditLog().signing_key_loaded("k", "ES256")
    assert emitted(caplog) == []


def test_a_flood_of_refusals_writes_a_bounded_number_of_lines_and_counts_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER_NAME):
        audit = AuditLog(clock=FixedClock(), monotonic=lambda: now[0])
        for _ in range(1000):  # one instant
            audit.caller_denied(None, "Create", "CALLER_UNAUTHENTICATED")
        audit.caller_denied(CALLER, "Create", "CALLER_NOT_ALLOWED")  # another key: its own burst
        now[0] += 1.0
        for _ in range(1000):  # the next second: five more lines
            audit.caller_denied(None, "Create", "CALLER_UNAUTHENTICATED")
    lines = [e for e in emitted(caplog) if e["caller"] is None]
    assert len(lines) == 20 + 5
    assert all("suppressed" not in e for e in lines[:20])
    assert lines[20]["suppressed"] == 980  # the first second's refusals left out
    assert [e.get("suppressed", 0) for e in lines[21:]] == [0, 0, 0, 0]
    assert sum(e.get("suppressed", 0) for e in lines) + len(lines) < 2000  # the rest still pending
    other = [e for e in emitted(caplog) if e["caller"] == CALLER]
    assert len(other) == 1 and "suppressed" not in other[0]


async def test_refresh_token_reuse_event_names_the_sessions_user(
    start_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    r = await start_service(refresh_grace=0)
    created = await r.stub.Create(pb.CreateRequest(user_id="carol"))
    await r.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER_NAME):
        async with expect_error(grpc.StatusCode.UNAUTHENTICATED, "REFRESH_TOKEN_REUSED"):
            await r.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    (reuse,) = [e for e in emitted(caplog) if e["event"] == "refresh_token_reuse_detected"]
    assert reuse["session_id"] == created.session.session_id
    assert reuse["user_id"] == "carol"
