"""Refresh tokens: minting them under the service's MAC and checking that MAC.

The MAC is HMAC-SHA256 over a context label, the session id, the generation and the
secret, truncated to 128 bits (the token's shape is in :mod:`session_service.domain.ids`).
It is what lets the store treat any token of an earlier generation as a rotated one:
only the service can make a token that passes, so one that names an earlier generation
was issued for that session and has been rotated since. A token whose MAC fails is
refused before the store is read.

The keys come from a file (``SESSION_REFRESH_TOKEN_KEYS_FILE``, a Kubernetes Secret
mount): one base64 or base64url key of at least 32 bytes per line. The first key MACs new
tokens, every key verifies them, so a new key is rolled out as a second line first, then
moved to the top, and the old one removed once the longest session lifetime has passed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from pathlib import Path

from session_service.domain.ids import (
    MAC_BYTES,
    MAX_GENERATION,
    RefreshToken,
    SessionId,
    new_refresh_secret,
    parse_refresh_token,
)
from session_service.errors import ConfigError

KEYS_FILE_SETTING = "SESSION_REFRESH_TOKEN_KEYS_FILE"
MIN_KEY_BYTES = 32
"""The shortest key accepted: HMAC-SHA256's full strength needs 256 bits."""
_CONTEXT = b"session-service/refresh-token/v2\x00"


class RefreshTokenKeys:
    """The MAC keys: the first MACs new tokens, all of them verify."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        if any(len(key) < MIN_KEY_BYTES for key in keys):
            raise ValueError(f"every key needs at least {MIN_KEY_BYTES} bytes")
        self._keys = tuple(keys)

    @classmethod
    def generate(cls) -> RefreshTokenKeys:
        """One random key, for development: tokens die with the process."""
        return cls([secrets.token_bytes(MIN_KEY_BYTES)])

    @classmethod
    def from_file(cls, path: Path) -> RefreshTokenKeys:
        """Reads one key per line (blank lines and ``#`` comments skipped); raises
        ConfigError naming the setting and the line, never quoting a key."""
        try:
            lines = path.read_text("ascii").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(KEYS_FILE_SETTING, f"cannot read {path}: {type(e).__name__}") from None
        keys: list[bytes] = []
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            key = _decode_key(text)
            if key is None:
                raise ConfigError(KEYS_FILE_SETTING, f"{path} line {number}: not base64 or base64url")
            if len(key) < MIN_KEY_BYTES:
                raise ConfigError(
                    KEYS_FILE_SETTING,
                    f"{path} line {number}: a key needs at least {MIN_KEY_BYTES} bytes, it has {len(key)}",
                )
            keys.append(key)
        if not keys:
            raise ConfigError(KEYS_FILE_SETTING, f"{path} holds no key")
        return cls(keys)

    def mac(self, sid: SessionId, generation: int, secret: bytes) -> bytes:
        """The MAC new tokens carry (by the first key)."""
        return _mac(self._keys[0], sid, generation, secret)

    def verifies(self, token: RefreshToken) -> bool:
        """Whether one of the keys made the token's MAC (each compared in constant time)."""
        found = False
        for key in self._keys:
            expected = _mac(key, token.session_id, token.generation, token.secret)
            found |= hmac.compare_digest(expected, token.mac)
        return found


class RefreshTokenCodec:
    """Implements :class:`~session_service.domain.ports.RefreshTokenCodec` with HMAC-SHA256."""

    def __init__(self, keys: RefreshTokenKeys) -> None:
        self._keys = keys

    def issue(self, sid: SessionId, generation: int) -> RefreshToken:
        """A fresh token of ``generation`` for ``sid``."""
        if not 1 <= generation <= MAX_GENERATION:
            raise ValueError(f"generation must be between 1 and {MAX_GENERATION}")
        secret = new_refresh_secret()
        return RefreshToken(sid, secret, generation, self._keys.mac(sid, generation, secret))

    def completed(self, token: RefreshToken) -> RefreshToken:
        """The token with its MAC: one opened from its seal carries none (see seal_successor)."""
        if token.mac or not token.generation:
            return token
        return RefreshToken(
            token.session_id,
            token.secret,
            token.generation,
            self._keys.mac(token.session_id, token.generation, token.secret),
        )

    def verify(self, raw: str) -> RefreshToken | None:
        """The token if ``raw`` has its shape and, unless generation-less, a MAC one of the keys made."""
        token = parse_refresh_token(raw)
        if token is None or (token.generation and not self._keys.verifies(token)):
            return None
        return token


def _mac(key: bytes, sid: SessionId, generation: int, secret: bytes) -> bytes:
    message = b"".join((_CONTEXT, str(sid).encode("ascii"), b"\x00", generation.to_bytes(4, "big"), secret))
    return hmac.new(key, message, hashlib.sha256).digest()[:MAC_BYTES]


def _decode_key(text: str) -> bytes | None:
    """A key in base64 or base64url, padded or not."""
    if text.strip("=") == "":
        return None
    alphabet = text.translate(str.maketrans("-_", "+/"))
    try:
        return base64.b64decode(alphabet + "=" * (-len(alphabet) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
