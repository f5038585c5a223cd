"""Session ids and refresh tokens: shape, parsing, and the sealed grace successor."""

from __future__ import annotations

import base64

from session_service.domain.ids import (
    RefreshToken,
    SessionId,
    new_refresh_secret,
    new_session_id,
    open_successor,
    parse_refresh_token,
    parse_session_id,
    seal_successor,
)


def _token(sid: SessionId, generation: int = 7) -> RefreshToken:
    return RefreshToken(sid, new_refresh_secret(), generation, bytes(range(16)))


def test_sessions_of_one_user_share_a_tag_and_differ_in_nonce() -> None:
    a, b, other = new_session_id("alice"), new_session_id("alice"), new_session_id("bob")
    assert a.tag == b.tag != other.tag
    assert a.nonce != b.nonce
    assert parse_session_id(str(a)) == a


def test_refresh_token_round_trips_with_its_generation_and_256_bit_secret() -> None:
    token = _token(new_session_id("alice"), generation=2**32 - 1)
    assert len(token.secret) == 32
    assert parse_refresh_token(str(token)) == token
    assert len(token.secret_hash) == 64 and token.secret_hash not in str(token)


def test_generation_less_token_parses_as_generation_zero() -> None:
    sid = new_session_id("alice")
    secret = new_refresh_secret()
    raw = f"{sid}.{base64.urlsafe_b64encode(secret).rstrip(b'=').decode()}"
    token = parse_refresh_token(raw)
    assert token == RefreshToken(sid, secret) and token.generation == 0 and token.mac == b""
    assert str(token) == raw


def test_malformed_tokens_do_not_parse() -> None:
    good = str(_token(new_session_id("alice")))
    for bad in ("", "x", good + "x", good[:-1], good.replace(".", "-"), good + "\n", "{" + good[1:]):
        assert parse_refresh_token(bad) is None
    assert parse_session_id("a.b") is None


def test_only_the_canonical_base64url_of_a_body_parses() -> None:
    sid = new_session_id("alice")
    token = _token(sid)
    good = str(token)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # The body's last character carries 2 unused bits: flipping them gives another string
    # that a lenient decoder reads as the same bytes, which must not count as the token.
    last = alphabet.index(good[-1])
    for unused in (1, 2, 3):
        lenient = good[:-1] + alphabet[last ^ unused]
        assert base64.urlsafe_b64decode(lenient.rsplit(".", 1)[1] + "=") == token.body
        assert parse_refresh_token(lenient) is None
    assert parse_refresh_token(good + "=") is None


def test_a_body_of_another_version_or_generation_zero_does_not_parse() -> None:
    sid = new_session_id("alice")
    body = bytearray(_token(sid).body)
    for version_or_zero in (bytes([1]) + body[1:], body[:1] + bytes(4) + body[5:]):
        raw = f"{sid}.{base64.urlsafe_b64encode(bytes(version_or_zero)).rstrip(b'=').decode()}"
        assert parse_refresh_token(raw) is None


def test_sealed_successor_opens_only_with_the_presented_token() -> None:
    sid = new_session_id("alice")
    presented, successor, other = _token(sid, 1), _token(sid, 2), _token(sid, 1)
    sealed = seal_successor(presented, successor)
    assert successor.secret not in sealed
    assert open_successor(presented, sealed) == successor
    assert open_successor(other, sealed) is None
    assert open_successor(presented, sealed[:-1] + bytes([sealed[-1] ^ 1])) is None


def test_a_sealed_generation_less_successor_opens_as_one() -> None:
    sid = new_session_id("alice")
    presented, successor = RefreshToken(sid, new_refresh_secret()), RefreshToken(sid, new_refresh_secret())
    assert open_successor(presented, seal_successor(presented, successor)) == successor
