"""The cache of verified tokens that the Verifier, Introspect, the gateway checks and the
caller-token verifier share."""

from __future__ import annotations

import hashlib

from session_wire.token_cache import VerifiedTokenCache, token_digest


def test_a_token_is_found_by_its_digest_until_its_time_and_then_forgotten() -> None:
    cache: VerifiedTokenCache[str] = VerifiedTokenCache(10)
    digest = cache.digest("header.payload.signature")
    cache.put(digest, "alice", 100.0)
    assert cache.get(digest, 99.999) == "alice"
    assert cache.get(digest, 100.0) is None
    assert len(cache) == 0


def test_the_key_is_the_sha256_of_the_token_whether_text_or_bytes_and_the_token_is_never_kept() -> None:
    assert token_digest("t.o.k") == token_digest(b"t.o.k") == hashlib.sha256(b"t.o.k").digest()
    cache: VerifiedTokenCache[int] = VerifiedTokenCache(10)
    cache.put(cache.digest("secret-token"), 1, 10.0)
    assert all(b"secret-token" not in key for key in cache._entries)


def test_beyond_its_bound_the_least_recently_used_token_is_evicted() -> None:
    cache: VerifiedTokenCache[int] = VerifiedTokenCache(2)
    a, b, c = (token_digest(name) for name in "abc")
    cache.put(a, 1, 10.0)
    cache.put(b, 2, 10.0)
    assert cache.get(a, 0.0) == 1  # a is now the most recently used
    cache.put(c, 3, 10.0)
    assert (cache.get(a, 0.0), cache.get(b, 0.0), cache.get(c, 0.0)) == (1, None, 3)
    assert len(cache) == 2


def test_putting_a_token_again_replaces_its_value_and_time() -> None:
    cache: VerifiedTokenCache[str] = VerifiedTokenCache(2)
    digest = token_digest("t")
    cache.put(digest, "old keys", 10.0)
    cache.put(digest, "new keys", 20.0)
    assert cache.get(digest, 15.0) == "new keys" and len(cache) == 1


def test_a_cache_of_size_zero_remembers_nothing_and_clear_forgets_everything() -> None:
    none: VerifiedTokenCache[int] = VerifiedTokenCache(0)
    none.put(token_digest("t"), 1, 10.0)
    assert none.get(token_digest("t"), 0.0) is None and len(none) == 0
    cache: VerifiedTokenCache[int] = VerifiedTokenCache(5)
    cache.put(token_digest("t"), 1, 10.0)
    cache.clear()
    assert cache.get(token_digest("t"), 0.0) is None
