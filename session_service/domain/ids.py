"""Shapes of session ids and refresh tokens.

A session id is ``<tag>.<nonce>``: ``tag`` is derived from the user id, so all
of a user's sessions (and the user's index) share one Redis Cluster hash slot
and every script touches a single slot; ``nonce`` is 128 random bits. A session
id names a session; it is not a credential.

A refresh token is ``<tag>.<nonce>.<secret>``: the session id plus 256 random
bits. Only a hash of the secret is ever stored.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_TAG_BYTES = 12
_NONCE_BYTES = 16
_SECRET_BYTES = 32
_B64 = r"[A-Za-z0-9_-]"
_SESSION_ID = re.compile(rf"({_B64}{{16}})\.({_B64}{{22}})")
_REFRESH_TOKEN = re.compile(rf"({_B64}{{16}})\.({_B64}{{22}})\.({_B64}{{43}})")
RETIRED_HASH_CHARS = 16
"""Rotated refresh tokens are remembered by the first 64 bits (16 hex digits) of their hash.

Only a token whose full hash matched the session once is ever remembered, and the secret
behind it is 256 random bits, so an honest token is mistaken for a retired one with a
chance of 2**-64 per remembered token; guessing a prefix on purpose needs the session's
hashes, which never leave Redis. Half the former 128 bits halves the rotation memory."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def user_tag(user_id: str) -> str:
    """The slot tag shared by every session of ``user_id``."""
    return _b64(hashlib.sha256(user_id.encode("utf-8")).digest()[:_TAG_BYTES])


@dataclass(frozen=True)
class SessionId:
    """A parsed session id."""

    tag: str
    """The user's slot tag."""
    nonce: str
    """The random part, unique per session."""

    def __str__(self) -> str:
        return f"{self.tag}.{self.nonce}"


def new_session_id(user_id: str) -> SessionId:
    """A fresh, unguessable id for a new session of ``user_id``."""
    return SessionId(user_tag(user_id), _b64(secrets.token_bytes(_NONCE_BYTES)))


def parse_session_id(raw: str) -> SessionId | None:
    """The parsed id, or None when ``raw`` does not have the shape of one."""
    m = _SESSION_ID.fullmatch(raw)
    return SessionId(m.group(1), m.group(2)) if m else None


@dataclass(frozen=True)
class RefreshToken:
    """A parsed refresh token."""

    session_id: SessionId
    """The session it refreshes."""
    secret: bytes
    """The 256-bit secret; never stored."""

    def __str__(self) -> str:
        return f"{self.session_id}.{_b64(self.secret)}"

    @property
    def secret_hash(self) -> str:
        """What the store keeps instead of the token (hex SHA-256 of the secret)."""
        return hashlib.sha256(self.secret).hexdigest()


def new_refresh_token(session_id: SessionId) -> RefreshToken:
    """A fresh refresh token for ``session_id``, from the OS CSPRNG."""
    return RefreshToken(session_id, secrets.token_bytes(_SECRET_BYTES))


def parse_refresh_token(raw: str) -> RefreshToken | None:
    """The parsed token, or None when ``raw`` does not have the shape of one."""
    m = _REFRESH_TOKEN.fullmatch(raw)
    if not m:
        return None
    secret = base64.urlsafe_b64decode(m.group(3) + "=")
    if len(secret) != _SECRET_BYTES or _b64(secret) != m.group(3):
        return None
    return RefreshToken(SessionId(m.group(1), m.group(2)), secret)


_SEAL_CONTEXT = b"session-service/refresh-grace/v1\x00"
_SEAL_NONCE_BYTES = 12


def _seal_key(presented: RefreshToken) -> AESGCM:
    # The secret is 256 uniformly random bits, so one hash with a context label is a
    # sound key derivation; only a holder of the presented token can derive the key.
    return AESGCM(hashlib.sha256(_SEAL_CONTEXT + presented.secret).digest())


def seal_successor(presented: RefreshToken, successor: RefreshToken) -> bytes:
    """Encrypts ``successor`` so that only a holder of ``presented`` can open it.

    Stored during the grace window, it lets a duplicate Refresh of the same token
    receive the same successor, while a dump of Redis yields no usable token.
    """
    nonce = secrets.token_bytes(_SEAL_NONCE_BYTES)
    aad = str(presented.session_id).encode("ascii")
    return nonce + _seal_key(presented).encrypt(nonce, successor.secret, aad)


def open_successor(presented: RefreshToken, sealed: bytes) -> RefreshToken | None:
    """The successor sealed by :func:`seal_successor`, or None if it does not open."""
    aad = str(presented.session_id).encode("ascii")
    try:
        secret = _seal_key(presented).decrypt(sealed[:_SEAL_NONCE_BYTES], sealed[_SEAL_NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):
        return None
    return RefreshToken(presented.session_id, secret)
