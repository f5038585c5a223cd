"""Strict base64url: one spelling per value, every other refused."""

from __future__ import annotations

import base64
import os

import pytest
from session_wire.b64url import b64url_decode, is_b64url, is_compact_jws


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def test_every_canonical_encoding_round_trips() -> None:
    for size in range(70):
        raw = os.urandom(size)
        assert b64url_decode(_encode(raw)) == raw
        assert b64url_decode(_encode(raw).encode("ascii")) == raw


@pytest.mark.parametrize(
    ("spelling", "why"),
    [
        ("QUI=", "padding"),
        ("QQ==", "padding"),
        ("QR", "unused bits set (QQ is canonical)"),
        ("QUJ", "unused bits set (QUI is canonical)"),
        ("a+b/", "standard alphabet"),
        ("QUJD~~~~", "junk suffix"),
        ("QUJD QUJD", "white space"),
        ("Q", "a lone character encodes nothing"),
        ("QUJDé", "not ASCII"),
    ],
)
def test_other_spellings_are_refused(spelling: str, why: str) -> None:
    assert not is_b64url(spelling), why
    with pytest.raises(ValueError, match="not canonical base64url"):
        b64url_decode(spelling)


def test_a_compact_jws_is_three_canonical_segments() -> None:
    assert is_compact_jws("eyJ9.e30.AQID")
    assert not is_compact_jws("eyJ9.e30")
    assert not is_compact_jws("eyJ9.e30.AQID.AQID")
    assert not is_compact_jws("eyJ9.e30.AQID~~~~")
    assert not is_compact_jws("eyJ9.e30=.AQID")
