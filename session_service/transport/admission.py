"""Per-replica bounds on what callers may ask of one process: concurrent calls, revocation
watchers (in all and per caller), and each caller's call rate.

A caller is its identity (client certificate or caller token), else its address without
the port. Its rate is counted in tokens for IntrospectBatch (one per token asked about,
the work the call does) and in calls for everything else.

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
from session_wire.v1 import session_pb2

from session_service.errors import Overloaded, RateLimited
from session_service.transport.caller_guard import current_caller

Context = grpc.aio.ServicerContext[Any, Any]

_RETRY_WHEN_OVERLOADED_S = 0.05
# A caller's own watch streams end rarely (they are meant to last): retrying sooner is noise.
_RETRY_WHEN_CALLER_WATCHES_ENOUGH_S = 1.0


class Admission:
    """Admits calls within the replica's bounds; ``enter`` and ``leave`` bracket each call."""

    def __init__(
        self,
        *,
        max_concurrent_rpcs: int,
        max_watchers: int,
        caller_rate_limit: int,
        max_watchers_per_caller: int = 0,
    ) -> None:
        """0 switches a bound off."""
        self._max_calls = max_concurrent_rpcs
        self._max_watchers = max_watchers
        self._max_watchers_per_caller = max_watchers_per_caller
        self._calls = 0
        self._watchers = 0
        # caller -> its open watch streams; a caller leaves the table with its last stream.
        self._watchers_of: dict[str, int] = {}
        self._limiter = CallerRateLimiter(caller_rate_limit) if caller_rate_limit > 0 else None

    def enter(self, context: Context, request: object, *, watch: bool) -> str:
        """Admits the call or raises Overloaded / RateLimited; returns the caller, which
        ``leave`` takes when the call ends.

        Health checks never come here (the interceptor leaves them open)."""
        caller = current_caller.get() or _peer_host(context.peer())
        if watch:
            if self._max_watchers and self._watchers >= self._max_watchers:
                raise Overloaded("revocation watchers", _RETRY_WHEN_OVERLOADED_S)
            per_caller = self._max_watchers_per_caller
            if per_caller and self._watchers_of.get(caller, 0) >= per_caller:
                raise Overloaded("revocation watchers of this caller", _RETRY_WHEN_CALLER_WATCHES_ENOUGH_S)
        elif self._max_calls and self._calls >= self._max_calls:
            raise Overloaded("concurrent calls", _RETRY_WHEN_OVERLOADED_S)
        if self._limiter is not None:
            wait = self._limiter.hit(caller, _cost(request))
            if wait > 0:
                raise RateLimited("calls from this caller", wait)
        if watch:
            self._watchers += 1
            self._watchers_of[caller] = self._watchers_of.get(caller, 0) + 1
        else:
            self._calls += 1
        return caller

    def leave(self, caller: str, *, watch: bool) -> None:
        """The call ``enter`` admitted for ``caller`` has ended."""
        if watch:
            self._watchers -= 1
            left = self._watchers_of[caller] - 1
            if left:
                self._watchers_of[caller] = left
            else:
                del self._watchers_of[caller]
        else:
            self._calls -= 1


def _cost(request: object) -> int:
    # A batch does the work of one Introspect per token: it is charged so (at least one).
    if isinstance(request, session_pb2.IntrospectBatchRequest):
        return max(1, len(request.requests))
    return 1


class CallerRateLimiter:
    """A sliding-window counter per caller, one window a second, in this process.

    It runs on every call, so it is a dict lookup and a few float operations: no lock (one
    event loop), no timer thread; callers without a call in the last window are dropped when a
    window turns over, so the table stays as small as the set of recent callers.
    """

    __slots__ = ("_counts", "_limit", "_window_start")

    def __init__(self, per_second: int) -> None:
        self._limit = per_second
        self._window_start = float(int(time.monotonic()))
        # caller -> [calls in the current window, calls in the previous window]
        self._counts: dict[str, list[int]] = {}

    def hit(self, caller: str, cost: int = 1) -> float:
        """Counts ``cost`` calls of ``caller``; 0 when admitted, else the seconds until they
        would be. A cost above the limit is charged as the whole limit: it is admitted once
        a second's budget is unspent, never refused for ever."""
        cost = min(cost, self._limit)
        now = time.monotonic()
        elapsed = now - self._window_start
        if elapsed >= 1.0:
            self._turn(now)
            elapsed = now - self._window_start
        counts = self._counts.get(caller)
        if counts is None:
            counts = self._counts[caller] = [0, 0]
        # The previous window's calls count in proportion to its part still inside the last second.
        weighted = counts[1] * (1.0 - elapsed) + counts[0]
        if weighted + cost > self._limit:
            if counts[1] and counts[0] + cost <= self._limit:
                # The previous window's weight decays: slots free once enough of it has passed.
                return max(0.001, min(1.0 - elapsed, (weighted + cost - self._limit) / counts[1]))
            return max(0.001, 1.0 - elapsed)
        counts[0] += cost
        return 0.0

    def _turn(self, now: float) -> None:
        windows = int(now - self._window_start)
        self._window_start += windows
        if windows == 1:
            for caller, counts in list(self._counts.items()):
                if counts[0] == 0:  # would count nothing in the new window
                    del self._counts[caller]
                else:
                    counts[1], counts[0] = counts[0], 0
        else:
            self._counts.clear()  # two windows or more without a call: nothing counts any more


def _peer_host(peer: str | None) -> str:
    # "ipv4:10.0.0.7:51234" / "ipv6:[::1]:51234": the address without the port, so one
    # unauthenticated process counts as one caller however many connections it opens.
    if not peer:
        return "unknown"
    host = peer.rpartition(":")[0]
    return host or peer
