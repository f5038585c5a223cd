"""The cache of verified tokens that every verifier keeps, server and client alike.

Verifying a token (a signature check) costs far more than hashing it, and the same token
comes back on every request of its bearer. :class:`VerifiedTokenCache` remembers what a
token verified to, by the SHA-256 of the token (the token itself is never kept), until a
time its owner names (the token's ``exp``, with or without the leeway), and at most
``max_entries`` of them, evicting the least recently used.

It says nothing about the session behind a token: callers still check revocation and
liveness on every use. Times are plain numbers in whatever unit the owner uses (seconds
or milliseconds), the same for :meth:`~VerifiedTokenCache.put` and
:meth:`~VerifiedTokenCache.get`.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["VerifiedTokenCache", "token_digest"]

V = TypeVar("V")


def token_digest(token: str | bytes) -> bytes:
    """The cache key of a token: its SHA-256 (text tokens encoded as UTF-8)."""
    return hashlib.sha256(token.encode() if isinstance(token, str) else token).digest()


class VerifiedTokenCache(Generic[V]):
    """A bounded LRU of what verified tokens verified to, by digest, each until its time."""

    def __init__(self, max_entries: int) -> None:
        """``max_entries`` 0 or less remembers nothing."""
        self._max = max_entries
        self._entries: OrderedDict[bytes, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def digest(token: str | bytes) -> bytes:
        """:func:`token_digest`: the key to :meth:`get` and :meth:`put` a token by."""
        return token_digest(token)

    def get(self, digest: bytes, now: float) -> V | None:
        """What the token verified to while ``now`` is before its time; else None (and forgets it)."""
        found = self._entries.get(digest)
        if found is None:
            return None
        if now >= found[0]:
            del self._entries[digest]
            return None
        self._entries.move_to_end(digest)
        return found[1]

    def put(self, digest: bytes, value: V, valid_until: float) -> None:
        """Remembers a verified token until ``valid_until``; past the bound, the least recently used goes."""
        if self._max <= 0:
            return
        self._entries[digest] = (valid_until, value)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forgets every token (the keys that vouched for them changed)."""
        self._entries.clear()
