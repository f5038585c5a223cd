"""Strict base64url (RFC 4648 section 5, unpadded as JWS uses it: RFC 7515 section 2).

Every token decoder of the server and the clients goes through these: a value has exactly
one spelling, so a token is never accepted under a second string (``token + "~~~~"``,
added ``=`` padding, ``+``/``/`` for ``-``/``_``, non-zero unused bits in the last
character) that deny-lists and caches keyed on the token string would not recognise.
"""

from __future__ import annotations

import binascii
import re

__all__ = ["b64url_decode", "is_b64url", "is_compact_jws"]

_ALPHABET = re.compile(rb"[A-Za-z0-9_-]*")
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
# The last character's unused low bits must be zero: 4 unused bits after 2 characters of a
# group of 4, 2 after 3 characters.
_CANONICAL_LAST = {2: frozenset(b"AQgw"), 3: frozenset(b"AEIMQUYcgkosw048")}


def is_b64url(segment: str | bytes) -> bool:
    """True when ``segment`` is unpadded base64url in its one canonical spelling."""
    try:
        data = segment.encode("ascii") if isinstance(segment, str) else segment
    except UnicodeEncodeError:
        return False
    if not _ALPHABET.fullmatch(data):
        return False
    rest = len(data) % 4
    return rest == 0 or (rest != 1 and data[-1] in _CANONICAL_LAST[rest])


def b64url_decode(segment: str | bytes) -> bytes:
    """Decodes unpadded base64url strictly, raising ValueError on any other spelling."""
    if not is_b64url(segment):
        raise ValueError("not canonical base64url")
    data = segment.encode("ascii") if isinstance(segment, str) else segment
    # Only the alphabet is left, so the standard decoder (in C) reads it exactly.
    return binascii.a2b_base64(data.translate(_URLSAFE_TO_STANDARD) + b"=" * (-len(data) % 4))


def is_compact_jws(token: str) -> bool:
    """True when ``token`` is three canonical base64url segments joined by dots (RFC 7515
    section 7.1), the only spelling under which a token is verified."""
    parts = token.split(".")
    return len(parts) == 3 and all(is_b64url(part) for part in parts)
