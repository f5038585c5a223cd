"""Shapes of session ids and refresh tokens.

A session id is ``<tag>.<nonce>``: ``tag`` is derived from the user id, so all
of a user's sessions (and the user's index) share one Redis Cluster hash slot
and every script touches a single slot; ``nonce`` is 128 random bits. A session
id names a session; it is not a credential.

A refresh token is ``<tag>.<nonce>.<body>``: the session id, then base64url of
``version (2) || generation (uint32, big-endian) || secret (256 random bits) || MAC
(128 bits)``. The generation counts the session's rotations (the first token is 1), so a
token of an earlier generation is recognised as rotated however many rotations
followed; the MAC (:mod:`session_service.tokens.refresh`) proves the service issued
that generation for that session. Tokens of the generation-less format,
``<tag>.<nonce>.<secret>``, are still accepted as generation 0 until they rotate. Only
a hash of the secret is ever stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_TAG_BYTES = 12
_NONCE_BYTES = 16
SECRET_BYTES = 32
"""Random bytes in a refresh token's secret."""
MAC_BYTES = 16
"""Bytes of a refresh token's MAC (HMAC-SHA256, truncated)."""
TOKEN_VERSION = 2
"""The first byte of a refresh token's body."""
MAX_GENERATION = 2**32 - 1
"""The last generation a refresh token can carry (its field is a uint32)."""
_GENERATION_BYTES = 4
_BODY_BYTES = 1 + _GENERATION_BYTES + SECRET_BYTES + MAC_BYTES
_B64 = r"[A-Za-z0-9_-]"
_SESSION_ID = re.compile(rf"({_B64}{{16}})\.({_B64}{{22}})")
_REFRESH_TOKEN = re.compile(rf"({_B64}{{16}})\.({_B64}{{22}})\.({_B64}{{43}}|{_B64}{{71}})")
RETIRED_HASH_CHARS = 16
"""Generation-less refresh tokens rotated before were remembered by the first 64 bits (16 hex
digits) of their hash, which rotate.lua and revoke.lua still compare.

Only a token whose full hash matched the session once was ever remembered, and the secret
behind it is 256 random bits, so an honest token is mistaken for a retired one with a
chance of 2**-64 per remembered token; guessing a prefix on purpose needs the session's
hashes, which never leave Redis."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes | None:
    """Strict base64url without padding: only the one canonical encoding of a value decodes."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if _b64(raw) == text else None


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


def successor_session_id(sid: SessionId) -> SessionId:
    """A fresh, unguessable id for a session that moves from ``sid`` (Reauthenticate): the
    same user, so the same tag and slot."""
    return SessionId(sid.tag, _b64(secrets.token_bytes(_NONCE_BYTES)))


def parse_session_id(raw: str) -> SessionId | None:
    """The parsed id, or None when ``raw`` does not have the shape of one."""
    m = _SESSION_ID.fullmatch(raw)
    return SessionId(m.group(1), m.group(2)) if m else None


@dataclass(frozen=True)
class RefreshToken:
    """A parsed refresh token (its MAC not yet checked: see tokens/refresh.py)."""

    session_id: SessionId
    """The session it refreshes."""
    secret: bytes
    """The 256-bit secret; never stored."""
    generation: int = 0
    """Which rotation of the session issued it (1 for Create's); 0 for the generation-less format."""
    mac: bytes = b""
    """The service's MAC over the session id, generation and secret; empty for the
    generation-less format."""

    def __str__(self) -> str:
        if not self.generation:
            return f"{self.session_id}.{_b64(self.secret)}"
        return f"{self.session_id}.{_b64(self.body)}"

    @property
    def body(self) -> bytes:
        """The token's last part, decoded: version, generation, secret and MAC."""
        return (
            bytes([TOKEN_VERSION])
            + self.generation.to_bytes(_GENERATION_BYTES, "big")
            + self.secret
            + self.mac
        )

    @property
    def secret_hash(self) -> str:
        """The hex SHA-256 of the secret: how a presented token is looked for in the store."""
        return self.secret_digest.hex()

    @property
    def secret_digest(self) -> bytes:
        """What the store keeps instead of the token: the SHA-256 of the secret, raw (half
        the bytes of its hex in every stored session)."""
        return hashlib.sha256(self.secret).digest()


def new_refresh_secret() -> bytes:
    """A fresh refresh-token secret, from the OS CSPRNG."""
    return secrets.token_bytes(SECRET_BYTES)


def parse_refresh_token(raw: str) -> RefreshToken | None:
    """The parsed token, or None when ``raw`` does not have the shape of one (either format)."""
    m = _REFRESH_TOKEN.fullmatch(raw)
    if not m:
        return None
    sid = SessionId(m.group(1), m.group(2))
    decoded = _unb64(m.group(3))
    if decoded is None:
        return None
    if len(decoded) == SECRET_BYTES:
        return RefreshToken(sid, decoded)
    return _from_body(sid, decoded)


def _from_body(sid: SessionId, body: bytes) -> RefreshToken | None:
    if len(body) != _BODY_BYTES or body[0] != TOKEN_VERSION:
        return None
    generation = int.from_bytes(body[1 : 1 + _GENERATION_BYTES], "big")
    if generation == 0:
        return None
    secret_end = 1 + _GENERATION_BYTES + SECRET_BYTES
    return RefreshToken(sid, body[1 + _GENERATION_BYTES : secret_end], generation, body[secret_end:])


_SEAL_CONTEXT = b"session-service/refresh-grace/v1\x00"
_SEAL_NONCE_BYTES = 12


def _seal_key(presented: RefreshToken) -> AESGCM:
    # The secret is 256 uniformly random bits, so one hash with a context label is a
    # sound key derivation; only a holder of the presented token can derive the key.
    return AESGCM(hashlib.sha256(_SEAL_CONTEXT + presented.secret).digest())


def _seal_aad(sid: SessionId, generation: int) -> bytes:
    return str(sid).encode("ascii") + b"\x00" + generation.to_bytes(_GENERATION_BYTES, "big")


def seal_successor(presented: RefreshToken, successor: RefreshToken) -> bytes:
    """Encrypts ``successor`` (of the generation after ``presented``'s) so that only a
    holder of ``presented`` can open it.

    Stored during the grace window, it lets a duplicate Refresh of the same token
    receive the same successor, while a dump of Redis yields no usable token. Only the
    secret is sealed, with the session id and generation bound as associated data; the
    MAC is made again on opening (RefreshTokenCodec.completed). So the stored value is
    60 bytes, within what Redis keeps in a hash's compact encoding (64 by default).
    """
    nonce = secrets.token_bytes(_SEAL_NONCE_BYTES)
    aad = _seal_aad(successor.session_id, successor.generation)
    return nonce + _seal_key(presented).encrypt(nonce, successor.secret, aad)


def open_successor(presented: RefreshToken, sealed: bytes) -> RefreshToken | None:
    """The successor sealed by :func:`seal_successor`, without its MAC (``mac`` empty),
    or None if it does not open."""
    key, nonce, body = _seal_key(presented), sealed[:_SEAL_NONCE_BYTES], sealed[_SEAL_NONCE_BYTES:]
    generation = presented.generation + 1
    try:
        secret = key.decrypt(nonce, body, _seal_aad(presented.session_id, generation))
        return RefreshToken(presented.session_id, secret, generation) if len(secret) == SECRET_BYTES else None
    except (InvalidTag, ValueError):
        pass
    # Sealed by a replica of the previous release during a rolling update: the whole body
    # (or a generation-less token's secret) under the session id alone.
    try:
        plain = key.decrypt(nonce, body, str(presented.session_id).encode("ascii"))
    except (InvalidTag, ValueError):
        return None
    if len(plain) == SECRET_BYTES:
        return RefreshToken(presented.session_id, plain)
    return _from_body(presented.session_id, plain)
