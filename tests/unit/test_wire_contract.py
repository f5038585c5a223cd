"""The wire contract is declared once and both sides use it."""

from __future__ import annotations

from typing import Any

import session_client.errors as client_errors
from session_wire import reasons, token_profile
from session_wire.v1.errors_pb2 import ErrorReason

import session_service.errors as server_errors
from session_service.domain.clock import SystemClock
from session_service.domain.model import ClientInfo, Session
from session_service.tokens.access import JwtCodec
from session_service.tokens.keyring import Keyring


def _reasons_of(module: object, root: type[Any]) -> dict[str, type[Any]]:
    found: dict[str, type[Any]] = {}
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, root) and value is not root:
            reason = getattr(value, "reason", "")
            if reason:
                found[reason] = value
    return found


def test_every_reason_is_a_value_of_the_proto_enum_and_has_a_class_on_both_sides() -> None:
    enum_names = {n for n in ErrorReason.keys() if n != "ERROR_REASON_UNSPECIFIED"}
    assert reasons.ALL == enum_names
    server = _reasons_of(server_errors, server_errors.SessionError)
    client = _reasons_of(client_errors, client_errors.SessionServiceError)
    assert set(server) == enum_names
    # A client can tell apart every reason the service sends.
    assert set(client) == enum_names, enum_names - set(client)


def test_server_and_client_classes_agree_on_the_status_code_of_each_reason() -> None:
    server = _reasons_of(server_errors, server_errors.SessionError)
    client = _reasons_of(client_errors, client_errors.SessionServiceError)
    for reason, cls in server.items():
        assert client[reason].code == cls.code, reason


def test_issued_tokens_carry_exactly_the_profile_the_verifier_requires() -> None:
    import jwt

    keyring = Keyring.generate("EdDSA")
    codec = JwtCodec(keyring, "iss-x", "aud-x", 60, token_profile.DEFAULT_LEEWAY_S)
    now = SystemClock().now_ms()
    session = Session(
        session_id="t.n",
        user_id="u",
        created_at_ms=now,
        last_active_at_ms=now,
        idle_expires_at_ms=now + 60_000,
        absolute_expires_at_ms=now + 120_000,
        version=1,
        data={},
        claims={},
        scopes=("read",),
        client=ClientInfo(),
        client_id="web",
    )
    token, _ = codec.issue(session, now)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["typ"] == token_profile.TOKEN_TYPE
    assert header["alg"] in token_profile.SUPPORTED_ALGORITHMS
    assert set(token_profile.REQUIRED_CLAIMS) <= set(claims)
    assert set(claims) <= token_profile.RESERVED_CLAIMS
    assert codec.verify(token) is not None
