"""What a token verifier knows of revoked sessions, and how fresh that is.

The client's Verifier (fed by ``WatchRevocations``) and the server's gateway check (fed by
the server's own revocation feed) follow the same stream of revocation events and decide
by the same rules, held here once:

- a revoked session is remembered until every access token it could have had has expired
  (``expires_at`` of its event, plus the leeway), then forgotten;
- a new connection first replays what was missed, so the view is complete again only once
  that connection says it has caught up; from then on every message of the stream (an
  event or a heartbeat) renews it;
- the view is fresh while its last renewal is at most ``max_staleness`` seconds old and,
  where the owner knows of events still waiting upstream (``lagging``), none wait;
- after the stream could not resume from the view's cursor (``cursor_reset``), revocations
  from before that moment may have been missed: a token issued then or earlier is not
  vouched for.

:class:`RevocationView` holds that state and does no I/O; its clocks are injected.
:func:`follow_revocations` keeps a view fed from a stream, reconnecting with
:class:`Backoff` after the stream ends, fails or stays silent.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NoReturn, TypeVar

from session_wire.tasks import raise_if_cancel_requested

__all__ = ["Backoff", "RevocationEvent", "RevocationView", "follow_revocations"]

log = logging.getLogger(__name__)

M = TypeVar("M")


@dataclass(frozen=True)
class RevocationEvent:
    """Sessions that ended together, as a view takes them in."""

    session_ids: Sequence[str]
    """The ended sessions."""
    expires_at: float
    """Epoch seconds after which no access token of these sessions is valid."""
    reason: str = ""
    """Why they ended ('' when unknown)."""


class RevocationView:
    """Revoked sessions, each until its tokens have expired, and whether that is complete enough to trust."""

    def __init__(
        self,
        *,
        leeway: float,
        max_staleness: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        lagging: Callable[[], bool] | None = None,
    ) -> None:
        """``leeway``: seconds a revocation is remembered past its ``expires_at`` (the
        tokens' clock-skew leeway); ``max_staleness``: seconds since the last renewal after
        which the view is stale; ``clock``: epoch seconds (for expiry and issue times);
        ``monotonic``: for staleness; ``lagging``: whether events wait upstream that the
        stream cannot deliver yet, when a stream that flows is still not the whole truth."""
        self._leeway = leeway
        self._max_staleness = max_staleness
        self._clock = clock
        self._monotonic = monotonic
        self._lagging = lagging
        self._revoked: dict[str, tuple[float, str]] = {}  # session id → (forget after, reason)
        self._expiry: list[tuple[float, str]] = []  # heap of (forget after, session id)
        self._cursor = ""
        self._live = False  # the current connection has caught up
        self._last_contact: float | None = None  # monotonic: the last message
        self._fresh_at: float | None = None  # monotonic: the last message while caught up
        self._missed_before: float | None = None

    def __len__(self) -> int:
        """Revoked sessions currently remembered."""
        return len(self._revoked)

    @property
    def cursor(self) -> str:
        """Where the stream resumes ('' before any event)."""
        return self._cursor

    @property
    def missed_before(self) -> float | None:
        """Epoch seconds before which revocations may have been missed; None when none were."""
        return self._missed_before

    @property
    def seconds_since_contact(self) -> float | None:
        """Since the last message of the stream; None before the first."""
        return None if self._last_contact is None else self._monotonic() - self._last_contact

    @property
    def staleness(self) -> float:
        """Seconds since the view was last known complete (inf before it first caught up)."""
        if self._fresh_at is None:
            return math.inf
        return self._monotonic() - self._fresh_at

    @property
    def stale(self) -> bool:
        """Whether the view is older than ``max_staleness``, or events wait upstream."""
        if self.staleness > self._max_staleness:
            return True
        return self._lagging is not None and self._lagging()

    def may_have_missed(self, issued_at: float | None) -> bool:
        """Whether a revocation that matters to a token issued at ``issued_at`` (epoch
        seconds; None when unknown) may have been missed."""
        missed = self._missed_before
        return missed is not None and (issued_at is None or issued_at <= missed)

    def fresh(self, issued_at: float | None) -> bool:
        """Whether the view is complete enough to trust for a token issued at ``issued_at``:
        neither :attr:`stale` nor :meth:`may_have_missed` a revocation that matters to it."""
        # Asked on every verification: spelled out rather than through the two above.
        fresh_at = self._fresh_at
        if fresh_at is None or self._monotonic() - fresh_at > self._max_staleness:
            return False
        if self._lagging is not None and self._lagging():
            return False
        missed = self._missed_before
        return missed is None or (issued_at is not None and issued_at > missed)

    def is_revoked(self, session_id: str) -> bool:
        """Whether a revocation of this session is known (and its tokens could still be valid)."""
        expiry = self._expiry
        if expiry and expiry[0][0] <= self._clock():
            self._forget_expired(self._clock())
        return session_id in self._revoked

    def reason(self, session_id: str) -> str:
        """Why a revoked session ended ('' when unknown or not revoked)."""
        found = self._revoked.get(session_id)
        return "" if found is None else found[1]

    def reconnecting(self) -> None:
        """A new connection begins: until it has caught up, its messages do not renew the view."""
        self._live = False

    def apply(
        self,
        events: Iterable[RevocationEvent],
        *,
        cursor: str,
        cursor_reset: bool = False,
        caught_up: bool = False,
    ) -> None:
        """Takes in one message of the stream: its events (oldest first; none in a
        heartbeat), the cursor after them ('' keeps the current one), whether the stream
        could not resume from the view's cursor, and whether this message ends the replay."""
        self._last_contact = self._monotonic()
        if caught_up:
            self._live = True
        if self._live:
            self._fresh_at = self._last_contact
        now = self._clock()
        if cursor_reset:
            self._missed_before = now
        for event in events:
            forget_after = event.expires_at + self._leeway
            if forget_after <= now:
                continue
            for sid in event.session_ids:
                known = self._revoked.get(sid)
                if known is None or forget_after > known[0]:
                    self._revoked[sid] = (forget_after, event.reason)
                    heapq.heappush(self._expiry, (forget_after, sid))
        if cursor:
            self._cursor = cursor
        self._forget_expired(now)

    def _forget_expired(self, now: float) -> None:
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            forget_after, sid = heapq.heappop(expiry)
            known = self._revoked.get(sid)
            if known is not None and known[0] == forget_after:
                del self._revoked[sid]


class Backoff:
    """Delays between reconnections: from ``first`` seconds, doubling up to ``maximum``,
    each times a random factor in [0.5, 1.5) so that many followers do not reconnect in step."""

    def __init__(self, *, maximum: float, first: float = 0.05) -> None:
        self._first = first
        self._maximum = maximum
        self._current = first

    def reset(self) -> None:
        """A connection worked: the next delay starts from ``first`` again."""
        self._current = self._first

    def next_delay(self) -> float:
        """The delay before the next attempt (and doubles the one after it)."""
        delay = self._current * (0.5 + random.random())  # noqa: S311 - jitter, not crypto
        self._current = min(self._current * 2, self._maximum)
        return delay


async def follow_revocations(
    view: RevocationView,
    watch: Callable[[str], AsyncIterator[M]],
    apply: Callable[[M], None],
    *,
    what: str,
    expected_errors: tuple[type[Exception], ...],
    max_backoff: float,
    max_silence: float | None = None,
) -> NoReturn:
    """Feeds ``view`` for ever from ``watch(view.cursor)``; only a cancellation ends it.

    ``apply`` takes in one message (converting it for :meth:`RevocationView.apply`). The
    stream is opened again, after a :class:`Backoff` delay of at most ``max_backoff``
    seconds, whenever it ends, fails, or (with ``max_silence``) sends nothing for that many
    seconds. ``expected_errors`` are logged as warnings; anything else with its traceback,
    since a follower that stops is worse than any error. ``what`` names the stream in logs.
    """
    backoff = Backoff(maximum=max_backoff)
    while True:
        view.reconnecting()
        stream = watch(view.cursor)
        try:
            while True:
                async with asyncio.timeout(max_silence):
                    message = await anext(stream)
                apply(message)
                backoff.reset()
        except StopAsyncIteration:
            delay = backoff.next_delay()
            log.info("%s ended; reconnecting in %.2fs", what, delay)
        except Exception as e:
            raise_if_cancel_requested()
            delay = backoff.next_delay()
            if isinstance(e, TimeoutError) and max_silence is not None:
                log.warning("%s silent for %.1fs; reconnecting in %.2fs", what, max_silence, delay)
            elif isinstance(e, expected_errors):
                log.warning("%s failed (%s); reconnecting in %.2fs", what, e, delay)
            else:
                log.exception("%s broke unexpectedly; reconnecting in %.2fs", what, delay)
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        await asyncio.sleep(delay)
