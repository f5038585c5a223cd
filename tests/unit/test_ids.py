"""Session ids and refresh tokens: shape, parsing, and the sealed grace successor."""

from __future__ import annotations

import base64
import dataclasses

from session_service.domain.ids import (
    RefreshToken,
    SessionId,
    _seal_key,
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
    # Small enough for a hash's compact encoding in Redis (hash-max-listpack-value 64).
    assert len(sealed) <= 64
    # It opens without the MAC, which the codec makes again (RefreshTokenCodec.completed).
    assert open_successor(presented, sealed) == dataclasses.replace(successor, mac=b"")
    assert open_successor(other, sealed) is None
    assert open_successor(presented, sealed[:-1] + bytes([sealed[-1] ^ 1])) is None
    # The generation is bound: the same seal does not open as another generation's successor.
    assert open_successor(dataclasses.replace(presented, generation=5), sealed) is None


def test_a_successor_sealed_by_the_previous_release_still_opens() -> None:
    # Whole body under the session id alone, as replicas of the previous release seal it.
    sid = new_session_id("alice")
    presented, successor = _token(sid, 1), _token(sid, 2)
    nonce = bytes(12)
    sealed = nonce + _seal_key(presented).encrypt(nonce, successor.body, str(sid).encode("ascii"))
    assert open_successor(presented, sealed) == successor


def test_the_successor_of_a_generation_less_token_is_generation_one() -> None:
    sid = new_session_id("alice")
    presented, successor = RefreshToken(sid, new_refresh_secret()), _token(sid, 1)
    assert open_successor(presented, seal_successor(presented, successor)) == dataclasses.replace(
        successor, mac=b""
    )
    # A generation-less successor sealed by a replica of an earlier release opens as one.
    old = RefreshToken(sid, new_refresh_secret())
    nonce = bytes(12)
    sealed = nonce + _seal_key(presented).encrypt(nonce, old.secret, str(sid).encode("ascii"))
    assert open_successor(presented, sealed) == old
