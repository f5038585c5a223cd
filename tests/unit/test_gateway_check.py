"""The gateway check's policy, with a fake codec, store and clock: when it answers from
memory, when it reads the store, and what it remembers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from session_service.domain.access import AccessCheck, VerifiedTokens
from session_service.domain.gateway import GatewayCheck, RevokedSessions
from session_service.domain.ids import new_session_id
from session_service.domain.model import INACTIVE, Introspection
from session_service.domain.ports import AccessClaims, Revocation, RevocationBatch

NOW_MS = 1_800_000_000_000
NOW_S = NOW_MS // 1000


class Clock:
    def __init__(self) -> None:
        self.ms = NOW_MS

    def now_ms(self) -> int:
        return self.ms


class Monotonic:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Codec:
    """Tokens are "<user>:<sid>:<iat>"; anything else does not verify."""

    def __init__(self) -> None:
        self.verified = 0

    audience = "aud"

    def verify(self, token: str, audience: str = "", *, any_audience: bool = False) -> AccessClaims | None:
        self.verified += 1
        if audience not in ("", self.audience):
            return None
        parts = token.split(":")
        if len(parts) != 3:
            return None
        sub, sid, iat = parts
        return AccessClaims(sub, sid, "read", "web", "iss", "aud", "j", int(iat) + 900, int(iat), int(iat))

    def issue(self, session: Any, now_ms: int) -> tuple[str, int]:
        raise NotImplementedError

    def issue_exchanged(self, grant: Any, now_ms: int) -> str:
        raise NotImplementedError

    def jwks_json(self) -> str:
        return "{}"


class Store:
    """Knows which sessions are live; counts reads."""

    def __init__(self) -> None:
        self.live: dict[str, str] = {}
        self.reads = 0

    async def live_owner(self, sid: Any, now_ms: int) -> str | None:
        self.reads += 1
        return self.live.get(str(sid))


class Feed:
    def valid_cursor(self, cursor: str) -> bool:
        return True

    async def watch(self, cursor: str) -> AsyncIterator[RevocationBatch]:
        return
        yield


def _setup(
    *, local: bool = True, cache_size: int = 100
) -> tuple[GatewayCheck, Codec, Store, RevokedSessions, Monotonic]:
    codec, store, clock, mono = Codec(), Store(), Clock(), Monotonic()
    revoked = RevokedSessions(Feed(), clock, max_silence_s=3.0, leeway_s=5, monotonic=mono)
    access = AccessCheck(codec, store, VerifiedTokens(cache_size))  # type: ignore[arg-type]
    check = GatewayCheck(access, clock, revoked=revoked if local else None, max_token=8192)
    return check, codec, store, revoked, mono


def _session(store: Store, user: str = "alice", iat: int = NOW_S) -> tuple[str, str]:
    sid = str(new_session_id(user))
    store.live[sid] = user
    return f"{user}:{sid}:{iat}", sid


async def test_while_the_feed_is_fresh_a_token_is_verified_once_and_the_store_is_not_read() -> None:
    check, codec, store, revoked, _ = _setup()
    revoked.apply(RevocationBatch((), "1-0", caught_up=True))
    token, sid = _session(store)
    for _ in range(3):
        identity = await check.check(token)
        assert (identity.active, identity.sub, identity.sid) == (True, "alice", sid)
    assert (codec.verified, store.reads) == (1, 0)


async def test_a_revocation_from_the_feed_refuses_a_cached_token_without_a_store_read() -> None:
    check, _, store, revoked, _ = _setup()
    revoked.apply(RevocationBatch((), "1-0", caught_up=True))
    token, sid = _session(store)
    assert (await check.check(token)).active
    revoked.apply(RevocationBatch((Revocation((sid,), NOW_MS, NOW_MS + 900_000),), "2-0"))
    assert await check.check(token) == INACTIVE
    assert store.reads == 0


async def test_before_catching_up_and_after_silence_checks_read_the_store() -> None:
    check, _, store, revoked, mono = _setup()
    token, sid = _session(store)
    assert (await check.check(token)).active  # not caught up yet: confirmed in the store
    assert store.reads == 1
    revoked.apply(RevocationBatch((), "1-0", caught_up=True))
    assert (await check.check(token)).active
    assert store.reads == 1
    mono.t += 3.5  # longer than max_silence without a heartbeat
    del store.live[sid]  # ended, and the feed did not say so
    assert await check.check(token) == INACTIVE
    assert store.reads == 2


async def test_while_the_relay_lags_a_flowing_feed_is_not_trusted_and_the_store_is_read() -> None:
    codec, store, clock, mono = Codec(), Store(), Clock(), Monotonic()
    lagging = [False]
    revoked = RevokedSessions(
        Feed(), clock, max_silence_s=3.0, leeway_s=5, monotonic=mono, relay_lagging=lambda: lagging[0]
    )
    access = AccessCheck(codec, store, VerifiedTokens(100))  # type: ignore[arg-type]
    check = GatewayCheck(access, clock, revoked=revoked, max_token=8192)
    revoked.apply(RevocationBatch((), "1-0", caught_up=True))
    token, sid = _session(store)
    assert (await check.check(token)).active and store.reads == 0
    # The stream's shard is away: the session's end sits in its outbox, the feed flows on.
    lagging[0] = True
    del store.live[sid]
    revoked.apply(RevocationBatch((), "1-0"))  # a heartbeat
    assert await check.check(token) == INACTIVE
    assert store.reads == 1


async def test_after_a_lost_cursor_older_tokens_are_confirmed_in_the_store() -> None:
    check, _, store, revoked, _ = _setup()
    old, _ = _session(store, "alice", iat=NOW_S - 60)
    revoked.apply(RevocationBatch((), "5-0", cursor_reset=True, caught_up=True))
    assert (await check.check(old)).active
    assert store.reads == 1
    new, _ = _session(store, "bob", iat=NOW_S + 1)
    assert (await check.check(new)).active
    assert store.reads == 1


async def test_authoritative_mode_reads_the_store_every_time() -> None:
    check, _, store, _, _ = _setup(local=False)
    token, sid = _session(store)
    assert (await check.check(token)).active
    assert (await check.check(token)).active
    del store.live[sid]
    assert await check.check(token) == INACTIVE
    assert store.reads == 3


async def test_invalid_empty_and_oversized_tokens_are_inactive() -> None:
    check, codec, _, revoked, _ = _setup()
    revoked.apply(RevocationBatch((), "1-0", caught_up=True))
    assert await check.check("garbage") == INACTIVE
    assert await check.check("") == INACTIVE
    assert await check.check("a" * 9000) == INACTIVE
    assert codec.verified == 1  # the oversized and empty ones were never parsed


def test_the_cache_is_bounded_keyed_by_digest_and_forgets_expired_tokens() -> None:
    cache = VerifiedTokens(2)
    identities = [Introspection(active=True, sub=f"u{i}", exp=NOW_S + 10) for i in range(3)]
    for i, identity in enumerate(identities):
        cache.put(cache.digest(f"token-{i}"), identity, identity.exp * 1000)
    assert len(cache) == 2
    assert cache.get(cache.digest("token-0"), NOW_MS) is None  # least recently used: evicted
    assert cache.get(cache.digest("token-2"), NOW_MS) == identities[2]
    assert cache.get(cache.digest("token-2"), NOW_MS + 10_000) is None  # expired
    assert len(cache) == 1
    assert all(b"token" not in key for key in cache._entries)


def test_a_revocation_is_forgotten_once_its_tokens_have_expired() -> None:
    clock, mono = Clock(), Monotonic()
    revoked = RevokedSessions(Feed(), clock, max_silence_s=3.0, leeway_s=5, monotonic=mono)
    revoked.apply(RevocationBatch((Revocation(("s1",), NOW_MS, NOW_MS + 1000),), "1-0", caught_up=True))
    assert revoked.is_revoked("s1")
    clock.ms += 1000 + 5000
    assert not revoked.is_revoked("s1")


async def test_authoritative_check_verifies_a_repeated_token_once_but_reads_its_session_every_time() -> None:
    codec, store = Codec(), Store()
    sid = str(new_session_id("alice"))
    store.live[sid] = "alice"
    access = AccessCheck(codec, store, VerifiedTokens(10))  # type: ignore[arg-type]
    token = f"alice:{sid}:{NOW_S}"
    for _ in range(3):
        assert (await access.authoritative(token, NOW_MS)) == access.verify(token)
    assert codec.verified == 1 + 3  # the three direct verify() calls above are uncached
    assert store.reads == 3
    # The cache never outlives the session: an ended session is inactive at once.
    del store.live[sid]
    assert await access.authoritative(token, NOW_MS) is INACTIVE
    # Nor the token: past its exp it is verified again (and the codec decides).
    assert await access.authoritative(token, (NOW_S + 901) * 1000) is not None
    assert codec.verified == 5
    # A token that does not verify is never remembered.
    assert await access.authoritative("junk", NOW_MS) is None
    assert await access.authoritative("junk", NOW_MS) is None
    assert codec.verified == 7
