"""Per-replica bounds on what callers may ask of one process: concurrent calls, revocation
watchers, and each caller's call rate.

Over a bound a call is refused at once (RESOURCE_EXHAUSTED with ``OVERLOADED`` or
``RATE_LIMITED`` and a RetryInfo), before it costs a Redis round trip: under a flood the
service sheds the excess quickly instead of letting every call queue and time out.
Health checks are never refused, so probes keep telling the truth under load. Per-user
limits on Create and Refresh are not here: they hold across replicas, so they live in
the Lua scripts (see ``take_token`` in store/lua/_lib.lua).
"""

from __future__ import annotations

import time
from typing import Any

import grpc
from limits import RateLimitItemPerSecond, storage, strategies

from session_service.errors import Overloaded, RateLimited
from session_service.transport.caller_guard import current_caller

Context = grpc.aio.ServicerContext[Any, Any]

_EXEMPT = ("/grpc.health.v1.Health/",)
_RETRY_WHEN_OVERLOADED_S = 0.05


class Admission:
    """Admits calls within the replica's bounds; ``enter`` and ``leave`` bracket each call."""

    def __init__(self, *, max_concurrent_rpcs: int, max_watchers: int, caller_rate_limit: int) -> None:
        """0 switches a bound off."""
        self._max_calls = max_concurrent_rpcs
        self._max_watchers = max_watchers
        self._calls = 0
        self._watchers = 0
        self._rate = RateLimitItemPerSecond(caller_rate_limit) if caller_rate_limit > 0 else None
        # A sliding-window counter per caller in this process; limits drops idle callers' counters.
        self._limiter = strategies.SlidingWindowCounterRateLimiter(storage.MemoryStorage())

    def enter(self, method: str, context: Context, *, watch: bool) -> bool:
        """Admits the call or raises Overloaded / RateLimited. True when ``leave`` must follow."""
        if method.startswith(_EXEMPT):
            return False
        if watch:
            if self._max_watchers and self._watchers >= self._max_watchers:
                raise Overloaded("revocation watchers", _RETRY_WHEN_OVERLOADED_S)
        elif self._max_calls and self._calls >= self._max_calls:
            raise Overloaded("concurrent calls", _RETRY_WHEN_OVERLOADED_S)
        if self._rate is not None:
            caller = current_caller.get() or _peer_host(context.peer())
            if not self._limiter.hit(self._rate, caller):
                reset_at = self._limiter.get_window_stats(self._rate, caller).reset_time
                raise RateLimited("calls from this caller", max(0.001, reset_at - time.time()))
        if watch:
            self._watchers += 1
        else:
            self._calls += 1
        return True

    def leave(self, *, watch: bool) -> None:
        """The admitted call has ended."""
        if watch:
            self._watchers -= 1
        else:
            self._calls -= 1

    @property
    def in_flight(self) -> tuple[int, int]:
        """(calls, watchers) being served now."""
        return self._calls, self._watchers


def _peer_host(peer: str | None) -> str:
    # "ipv4:10.0.0.7:51234" / "ipv6:[::1]:51234": the address without the port, so one
    # unauthenticated process counts as one caller however many connections it opens.
    if not peer:
        return "unknown"
    host = peer.rpartition(":")[0]
    return host or peer
