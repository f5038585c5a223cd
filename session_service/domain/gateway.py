"""Gateway checks: the access check (:mod:`session_service.domain.access`), made fast.

Gateways (Envoy ``Check``, HTTP forward-auth) ask about every request, so in ``local``
mode the answer comes from memory whenever memory is trustworthy:

- a token verified before is found by its SHA-256 digest in a bounded LRU cache and kept
  there until its ``exp`` (the token itself is never kept);
- a session ended since is in :class:`RevokedSessions`, which follows this server's own
  revocation feed (the one ``WatchRevocations`` serves, from the first check on) and
  forgets a revocation once every access token of that session has expired;
- freshness is the Verifier's rule: the feed must have caught up and been heard from
  within ``max_silence`` seconds, and the token must be newer than any point from which
  revocations may have been missed (a lost cursor). When that does not hold, the check
  reads the session in the store, exactly as Introspect does.

In ``authoritative`` mode every check reads the store. Either way the result is an
:class:`~session_service.domain.model.Introspection`: active with the identity, or
INACTIVE. A store that cannot be read raises StoreUnavailable.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import logging
import random
import time
from collections.abc import Callable

from session_service.domain.access import AccessCheck
from session_service.domain.clock import Clock
from session_service.domain.model import INACTIVE, Introspection
from session_service.domain.ports import RevocationBatch, RevocationFeed
from session_service.errors import SessionError
from session_service.tasks import raise_if_cancel_requested, stop_tasks

__all__ = ["GatewayCheck", "RevokedSessions"]

log = logging.getLogger(__name__)


class RevokedSessions:
    """Sessions this process knows to have ended, fed by the revocation feed, and how fresh that is."""

    def __init__(
        self,
        feed: RevocationFeed,
        clock: Clock,
        *,
        max_silence_s: float,
        leeway_s: float,
        monotonic: Callable[[], float] = time.monotonic,
        relay_lagging: Callable[[], bool] = lambda: False,
    ) -> None:
        """``max_silence_s``: how long the feed may go unheard (it sends heartbeats more often)
        before :meth:`fresh` says no; ``leeway_s``: how long past a revocation's
        ``expires_at`` it is remembered (the tokens' clock-skew leeway); ``relay_lagging``:
        whether some revocation events could not reach the stream yet (store/outbox.py),
        when a feed that flows is still not the whole truth."""
        self._relay_lagging = relay_lagging
        self._feed = feed
        self._clock = clock
        self._max_silence = max_silence_s
        self._leeway_ms = int(leeway_s * 1000)
        self._monotonic = monotonic
        self._revoked: dict[str, int] = {}  # session id → forget after (epoch ms)
        self._expiry: list[tuple[int, str]] = []  # heap of (forget after, session id)
        self._cursor = ""
        self._synced = False
        self._heard_at: float | None = None
        self._missed_before_ms: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.caught_up = asyncio.Event()
        """Set once the first replay of retained revocations is done."""

    def start(self) -> None:
        """Starts following the feed in the background, unless it already does or was closed."""
        if (self._task is None or self._task.done()) and not self._closed:
            # A fresh context: the follower outlives the call that happened to start it.
            self._task = asyncio.create_task(
                self._follow(), name="gateway-revocations", context=contextvars.Context()
            )

    async def close(self) -> None:
        """Stops following the feed, for good."""
        self._closed = True
        if self._task is not None:
            await stop_tasks([self._task], within=2.0, what="gateway revocation follower")
            self._task = None

    def fresh(self, issued_at_s: int) -> bool:
        """Whether what this set knows is complete enough to trust for a token issued then."""
        if not self._synced or self._heard_at is None:
            return False
        if self._monotonic() - self._heard_at > self._max_silence:
            return False
        if self._relay_lagging():
            return False  # events wait in outboxes (the stream's shard is away): read the store
        return self._missed_before_ms is None or issued_at_s * 1000 > self._missed_before_ms

    def is_revoked(self, session_id: str) -> bool:
        """Whether an ended session of this id is known (and its tokens could still be valid)."""
        now = self._clock.now_ms()
        while self._expiry and self._expiry[0][0] <= now:
            forget_after, sid = heapq.heappop(self._expiry)
            if self._revoked.get(sid) == forget_after:
                del self._revoked[sid]
        return session_id in self._revoked

    def apply(self, batch: RevocationBatch) -> None:
        """Takes in one step of the feed."""
        self._heard_at = self._monotonic()
        now = self._clock.now_ms()
        if batch.cursor_reset:
            # As in the Verifier: revocations before now may have been missed, so tokens
            # issued before now are confirmed in the store until they have expired.
            self._missed_before_ms = now
            log.warning("the revocation feed could not resume; older tokens are checked in the store")
        for revocation in batch.revocations:
            forget_after = revocation.expires_at_ms + self._leeway_ms
            if forget_after <= now:
                continue
            for sid in revocation.session_ids:
                if forget_after > self._revoked.get(sid, 0):
                    self._revoked[sid] = forget_after
                    heapq.heappush(self._expiry, (forget_after, sid))
        if batch.cursor:
            self._cursor = batch.cursor
        if batch.caught_up:
            self._synced = True
            self.caught_up.set()

    async def _follow(self) -> None:
        backoff = 0.05
        while True:
            try:
                async for batch in self._feed.watch(self._cursor):
                    self.apply(batch)
                    backoff = 0.05
            except SessionError as e:
                raise_if_cancel_requested()
                log.warning("gateway revocation feed failed (%s); checks read the store meanwhile", e)
            except Exception:
                raise_if_cancel_requested()
                # Anything else (an unexpected reply) must not end the follower for good.
                log.exception("gateway revocation feed failed; checks read the store meanwhile")
            # Ended or failed: until the next replay has caught up, the set may miss revocations.
            self._synced = False
            await asyncio.sleep(backoff * (0.5 + random.random()))  # noqa: S311 - jitter, not crypto
            backoff = min(backoff * 2, 2.0)


class GatewayCheck:
    """Answers "whose request is this?" for a bearer access token, fast and fresh."""

    def __init__(
        self,
        access: AccessCheck,
        clock: Clock,
        *,
        revoked: RevokedSessions | None,
        max_token: int,
    ) -> None:
        """``revoked`` None means ``authoritative`` mode: every check reads the store."""
        self._access = access
        self._clock = clock
        self._revoked = revoked
        self._max_token = max_token

    @property
    def revoked(self) -> RevokedSessions | None:
        """The revocations followed in ``local`` mode; None in ``authoritative`` mode."""
        return self._revoked

    async def check(self, token: str) -> Introspection:
        """The token's identity when it is valid and its session live, else INACTIVE.

        Raises StoreUnavailable when the answer needs the store and the store fails."""
        if not token or len(token) > self._max_token:
            return INACTIVE
        now = self._clock.now_ms()
        if self._revoked is None:
            return await self._access.authoritative(token, now) or INACTIVE
        # Followed from the first check on: a server no gateway asks costs the feed nothing.
        self._revoked.start()
        # The same cache of verified tokens as Introspect's (AccessCheck owns it).
        identity = self._access.verified(token, now)
        if identity is None:
            return INACTIVE
        if self._revoked.is_revoked(identity.sid):
            return INACTIVE
        if not self._revoked.fresh(identity.iat):
            return await self._access.confirm(identity, now)
        return identity
