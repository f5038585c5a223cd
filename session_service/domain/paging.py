"""List pagination (AIP-158): page sizes and opaque page tokens.

A page token names the last session of the previous page (its nonce) and is bound to the
user it was issued for, so a token cannot be replayed against another user's list. It is
not a secret: it only says where to continue.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from session_service.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 50
"""Sessions per page when the request gives no page_size."""
MAX_PAGE_SIZE = 1000
"""A larger page_size is served as this many."""

_VERSION = "p1"
_NONCE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def page_size(requested: int) -> int:
    """The page size to serve for ``requested`` (0: the default; above the maximum: the maximum)."""
    if requested < 0:
        raise InvalidArgument([FieldViolation("page_size", "must not be negative")])
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _user_digest(user_id: str) -> str:
    return hashlib.sha256(user_id.encode()).hexdigest()[:16]


def encode_page_token(user_id: str, after: str) -> str:
    """The token that continues ``user_id``'s list after the session nonce ``after``."""
    raw = f"{_VERSION}:{_user_digest(user_id)}:{after}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(user_id: str, token: str) -> str:
    """The nonce to continue after, from a token this module issued for ``user_id``."""
    if not token:
        return ""
    bad = InvalidArgument([FieldViolation("page_token", "is not a page token of this user's list")])
    if len(token) > 256:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    version, _, rest = raw.partition(":")
    digest, _, after = rest.partition(":")
    if version != _VERSION or digest != _user_digest(user_id) or not _NONCE.fullmatch(after):
        raise bad
    return after
