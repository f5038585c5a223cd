"""What the SSF transmitter sends and to whom: the CAEP event of a revocation, and the
receivers file (SESSION_SSF_RECEIVERS_FILE) with what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from session_service.domain.model import RevocationReason
from session_service.domain.security_events import event_id, initiating_entity, session_revoked
from session_service.errors import ConfigError
from session_service.transport.ssf_transmitter_receivers import load_receivers, parse_receivers

SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"


@pytest.mark.parametrize(
    ("reason", "entity"),
    [
        (RevocationReason.LOGOUT, "user"),
        (RevocationReason.LOGOUT_EVERYWHERE, "user"),
        (RevocationReason.LOGOUT_OTHER_DEVICES, "user"),
        (RevocationReason.IDP_LOGOUT, "user"),
        (RevocationReason.ADMINISTRATIVE, "admin"),
        (RevocationReason.REFRESH_TOKEN_REUSE, "policy"),
        (RevocationReason.SESSION_LIMIT_EVICTION, "policy"),
        (RevocationReason.RISK_POLICY, "policy"),
        (RevocationReason.SESSION_ROTATED, "system"),
        (RevocationReason.SHARED_SIGNAL, "system"),
        (None, "system"),
    ],
)
def test_every_reason_has_an_initiating_entity(reason: RevocationReason | None, entity: str) -> None:
    assert initiating_entity(reason).value == entity


def test_the_event_of_a_session_names_it_and_the_user_when_known() -> None:
    claims = session_revoked(
        issuer="https://iss.example",
        audience="https://aud.example",
        receiver="billing",
        session_id="s1",
        revoked_at_ms=1_800_000_000_123,
        reason=RevocationReason.ADMINISTRATIVE,
        issued_at=1_800_000_001,
        user_id="u1",
    )
    assert claims == {
        "iss": "https://iss.example",
        "aud": "https://aud.example",
        "jti": claims["jti"],
        "iat": 1_800_000_001,
        "sub_id": {
            "format": "complex",
            "session": {"format": "opaque", "id": "s1"},
            "user": {"format": "opaque", "id": "u1"},
        },
        "events": {
            SESSION_REVOKED: {
                "event_timestamp": 1_800_000_000,
                "initiating_entity": "admin",
                "reason_admin": {"en": "ADMINISTRATIVE"},
            }
        },
    }


def test_the_jti_is_the_same_on_every_attempt_and_differs_per_receiver_and_session() -> None:
    one = event_id("billing", "s1", 1, RevocationReason.LOGOUT)
    assert one == event_id("billing", "s1", 1, RevocationReason.LOGOUT)
    assert (
        len({one, event_id("crm", "s1", 1, RevocationReason.LOGOUT), event_id("billing", "s2", 1, None)}) == 3
    )


def test_a_receivers_file_with_every_field(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("secret-token\n")
    path = tmp_path / "receivers.yaml"
    path.write_text(
        "receivers:\n"
        "  - name: billing\n"
        "    endpoint: https://billing.example.com/ssf/events\n"
        "    audience: https://billing.example.com\n"
        "    token_file: token\n"
        f"    events: [{SESSION_REVOKED}]\n"
        "  - endpoint: http://127.0.0.1:8080/events\n"
        "    audience: local\n"
    )
    billing, local = load_receivers(path)
    assert (billing.name, billing.audience, billing.events) == (
        "billing",
        "https://billing.example.com",
        (SESSION_REVOKED,),
    )
    assert billing.bearer_token() == "secret-token"
    assert (local.name, local.bearer_token(), local.events) == (
        "http://127.0.0.1:8080/events",
        "",
        (SESSION_REVOKED,),
    )


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("receivers: [{endpoint: 'http://billing.example.com/e', audience: a}]", "must be https"),
        ("receivers: [{endpoint: 'ftp://127.0.0.1/e', audience: a}]", "https URL"),
        ("receivers: [{endpoint: 'https://u:p@x.example/e', audience: a}]", "no user info"),
        ("receivers: [{endpoint: 'https://x.example/e'}]", "audience"),
        ("receivers: [{endpoint: 'https://x.example/e', audience: a, colour: red}]", "unknown keys"),
        (
            "receivers: [{endpoint: 'https://x.example/e', audience: a, events: [urn:other]}]",
            "not transmitted",
        ),
        ("receivers: [{endpoint: 'https://x.example/e', audience: a, token_file: nowhere}]", "not a file"),
        (
            "receivers: [{name: n, endpoint: 'https://x.example/e', audience: a},"
            " {name: n, endpoint: 'https://y.example/e', audience: b}]",
            "two receivers",
        ),
        ("endpoints: []", "one key, receivers"),
        ("receivers: [", "not valid YAML"),
    ],
)
def test_a_bad_receivers_file_is_refused_saying_why(document: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_receivers(document.encode(), base=Path("/nonexistent"))


def test_plain_http_to_another_host_is_allowed_in_development_only() -> None:
    document = b"receivers: [{endpoint: 'http://receiver.internal/e', audience: a}]"
    assert parse_receivers(document, dev=True)[0].endpoint == "http://receiver.internal/e"
    with pytest.raises(ValueError, match="SESSION_DEV"):
        parse_receivers(document)


def test_a_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SESSION_SSF_RECEIVERS_FILE"):
        load_receivers(tmp_path / "missing.yaml")
