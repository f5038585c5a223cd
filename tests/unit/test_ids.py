"""Session ids and refresh tokens: shape, parsing, and the sealed grace successor."""

from __future__ import annotations

from session_service.domain.ids import (
    new_refresh_token,
    new_session_id,
    open_successor,
    parse_refresh_token,
    parse_session_id,
    seal_successor,
)


def test_sessions_of_one_user_share_a_tag_and_differ_in_nonce() -> None:
    a, b, other = new_session_id("alice"), new_session_id("alice"), new_session_id("bob")
    assert a.tag == b.tag != other.tag
    assert a.nonce != b.nonce
    assert parse_session_id(str(a)) == a


def test_refresh_token_round_trips_and_has_256_bit_secret() -> None:
    token = new_refresh_token(new_session_id("alice"))
    assert len(token.secret) == 32
    assert parse_refresh_token(str(token)) == token
    assert len(token.secret_hash) == 64 and token.secret_hash not in str(token)


def test_malformed_tokens_do_not_parse() -> None:
    good = str(new_refresh_token(new_session_id("alice")))
    for bad in ("", "x", good + "x", good[:-1], good.replace(".", "-"), good + "\n", "{" + good[1:]):
        assert parse_refresh_token(bad) is None
    assert parse_session_id("a.b") is None


def test_sealed_successor_opens_only_with_the_presented_token() -> None:
    sid = new_session_id("alice")
    presented, successor, other = new_refresh_token(sid), new_refresh_token(sid), new_refresh_token(sid)
    sealed = seal_successor(presented, successor)
    assert successor.secret not in sealed
    assert open_successor(presented, sealed) == successor
    assert open_successor(other, sealed) is None
    assert open_successor(presented, sealed[:-1] + bytes([sealed[-1] ^ 1])) is None
