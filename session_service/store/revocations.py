"""The revocation stream: how ended sessions reach the services that verify tokens locally.

Writing. The scripts that end sessions (revoke, revoke_user, create's evictions,
reauthenticate's old id, step_up's access tokens) only touch one user's slot, so they
cannot append to a stream shared by all users. They write the event into the user's
outbox instead, and the relay (store/outbox.py) appends it to ``<prefix>:{revocations}`` at least once
(``publish_revocation.lua``, which also trims events older than the longest access-token
lifetime). The stream thus holds exactly the events a verifier still needs. An entry's
fields: ``sids``, ``at``, ``exp``, ``reason`` and, when the event is known to be one
user's, ``user`` (an entry without it decodes with no user).

Reading. :class:`RedisRevocationFeed` serves any number of watchers from one reader
task per server: the reader follows the stream with XREAD BLOCK on one connection and
hands each new batch to every watcher's queue. A watcher first replays what it missed
with non-blocking XRANGE pages (from its cursor, the id of the last entry it got),
then switches to its queue; it registers with the reader before the replay, so
nothing falls between the two. A response carries at most ``MAX_SESSIONS_PER_RESPONSE``
session ids (stream entries carry at most ``CHUNK_SESSIONS``), far below a client's
receive limit. Heartbeats say "nothing is missing up to now", so none is sent while the
relay is behind (an event older than a second could not reach the stream): verifiers
then see their view go stale and stop trusting it. A watcher that falls too far behind
is unregistered and replays again from its own cursor, so a slow client costs a bounded queue, not
unbounded memory.
"""

from __future__ import annotations

import asyncio
import contextvars
import re
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis import exceptions as rx
from session_wire.tasks import stop_tasks

from session_service.domain.model import RevocationReason
from session_service.domain.ports import Revocation, RevocationBatch
from session_service.errors import StoreUnavailable
from session_service.store.execution import translate_errors

_CURSOR = re.compile(r"[0-9]{1,19}-[0-9]{1,19}")
_REASONS = {r.value: r for r in RevocationReason}

MAX_SESSIONS_PER_RESPONSE = 2000
"""Session ids in one WatchRevocations response (about 90 KB), however many ended."""


def _id(raw: str) -> tuple[int, int]:
    ms, _, seq = raw.partition("-")
    return int(ms), int(seq or 0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode(entries: Sequence[Any]) -> list[tuple[str, Revocation]]:
    out = []
    for raw_id, fields in entries:
        f = {_text(k): _text(v) for k, v in fields.items()}
        revocation = Revocation(
            tuple(f.get("sids", "").split()),
            int(f.get("at", 0)),
            int(f.get("exp", 0)),
            _REASONS.get(f.get("reason", "")),
            f.get("user", ""),
        )
        out.append((_text(raw_id), revocation))
    return out


def _bounded(entries: list[tuple[str, Revocation]]) -> list[list[tuple[str, Revocation]]]:
    """Entries in groups of at most MAX_SESSIONS_PER_RESPONSE session ids (an entry is never split)."""
    groups: list[list[tuple[str, Revocation]]] = []
    size = MAX_SESSIONS_PER_RESPONSE
    for entry in entries:
        n = len(entry[1].session_ids)
        if size + n > MAX_SESSIONS_PER_RESPONSE and (not groups or groups[-1]):
            groups.append([])
            size = 0
        groups[-1].append(entry)
        size += n
    return groups


@dataclass(frozen=True)
class _Entries:
    entries: list[tuple[str, Revocation]]


@dataclass(frozen=True)
class _Failure:
    error: Exception


class _Signal:
    def __init__(self, name: str) -> None:
        self.name = name


_HEARTBEAT, _LAGGED, _CLOSED = _Signal("heartbeat"), _Signal("lagged"), _Signal("closed")
_Item = _Entries | _Failure | _Signal


class RedisRevocationFeed:
    """Implements :class:`~session_service.domain.ports.RevocationFeed` on a Redis stream."""

    def __init__(
        self,
        client: Any,
        key: str,
        *,
        block_s: float = 1.0,
        heartbeat_s: float = 1.0,
        page_size: int = 500,
        max_queued: int = 64,
        lagging: Callable[[], bool] = lambda: False,
    ) -> None:
        self._client = client
        self._key = key
        self._block_ms = max(1, int(block_s * 1000))
        self._heartbeat_s = heartbeat_s
        self._page_size = page_size
        self._max_queued = max_queued
        self._lagging = lagging
        self._subscribers: set[asyncio.Queue[_Item]] = set()
        self._stream_task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._closed = False

    @property
    def watchers(self) -> int:
        """Watchers the reader currently feeds."""
        return len(self._subscribers)

    def valid_cursor(self, cursor: str) -> bool:
        """A cursor is a stream entry id, ``<ms>-<seq>``."""
        return _CURSOR.fullmatch(cursor) is not None

    async def watch(self, cursor: str) -> AsyncGenerator[RevocationBatch, None]:
        """Replays retained events after ``cursor``, then follows new ones until closed."""
        if self._closed:
            return
        last, reset = await self._resume_point(cursor)
        caught_up = False
        while True:
            queue = await self._subscribe()
            try:
                # Replay: pages until one comes back short. The first replay ends with a
                # caught_up response, even when there was nothing to replay.
                while True:
                    page = await translate_errors(
                        self._client.xrange(self._key, f"({last}" if last else "-", "+", self._page_size)
                    )
                    entries = _decode(page)
                    done = len(entries) < self._page_size
                    groups = _bounded(entries) or [[]]
                    for n, group in enumerate(groups):
                        final = done and n == len(groups) - 1
                        if group:
                            last = group[-1][0]
                        if group or (final and not caught_up):
                            yield RevocationBatch(
                                tuple(r for _, r in group), last, reset, caught_up=final and not caught_up
                            )
                            reset = False
                            caught_up = caught_up or final
                    if done:
                        break
                # Live: what the reader hands over, minus what the replay already sent.
                while True:
                    item = await queue.get()
                    if isinstance(item, _Entries):
                        fresh = [(i, r) for i, r in item.entries if not last or _id(i) > _id(last)]
                        for group in _bounded(fresh):
                            last = group[-1][0]
                            yield RevocationBatch(tuple(r for _, r in group), last)
                    elif isinstance(item, _Failure):
                        raise item.error
                    elif item is _HEARTBEAT:
                        yield RevocationBatch((), last)
                    elif item is _CLOSED:
                        return
                    else:  # _LAGGED: the reader dropped this watcher; replay from its cursor
                        break
            finally:
                self._subscribers.discard(queue)

    async def close(self) -> None:
        """Ends every watch (their clients reconnect elsewhere) and stops the reader."""
        self._closed = True
        for queue in self._subscribers:
            queue.put_nowait(_CLOSED)
        self._subscribers.clear()
        if self._stream_task is not None:
            await stop_tasks([self._stream_task], within=2.0, what="revocation stream reader")

    async def _resume_point(self, cursor: str) -> tuple[str, bool]:
        """Where the replay starts ('' = the oldest retained event) and whether the cursor was lost."""
        if not cursor:
            return "", False
        try:
            info = await translate_errors(self._client.xinfo_stream(self._key))
        except rx.ResponseError:  # no such key: the stream this cursor came from is gone
            return "", True
        if await translate_errors(self._client.xrange(self._key, cursor, cursor, 1)):
            return cursor, False
        # Not in the stream. If trimming has passed it, everything dropped after it had
        # expired: resuming after it misses nothing that matters. Otherwise the cursor
        # was never in this stream (lost with a Redis that restarted empty, or foreign).
        if _id(cursor) <= _id(_text(info.get("max-deleted-entry-id", "0-0"))):
            return cursor, False
        return "", True

    async def _subscribe(self) -> asyncio.Queue[_Item]:
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._subscribers.add(queue)
        if self._stream_task is None or self._stream_task.done():
            self._ready = asyncio.Event()
            # A fresh context: the reader outlives the call that happened to start it, so it
            # must not carry that call's deadline or trace span into every later XREAD.
            self._stream_task = asyncio.create_task(self._read(self._ready), context=contextvars.Context())
        # Only once the reader knows where it starts does the replay begin; together they
        # then cover every entry.
        await self._ready.wait()
        return queue

    async def _read(self, ready: asyncio.Event) -> None:
        try:
            try:
                info = await translate_errors(self._client.xinfo_stream(self._key))
                last = _text(info["last-generated-id"])
            except rx.ResponseError:
                last = "0-0"
        except StoreUnavailable as e:
            self._fail_all(e)
            return
        finally:
            ready.set()
        quiet_since = time.monotonic()
        while self._subscribers:
            try:
                reply = await translate_errors(
                    self._client.xread({self._key: last}, count=self._page_size, block=self._block_ms)
                )
            except StoreUnavailable as e:
                self._fail_all(e)
                return
            entries = _decode(reply[0][1]) if reply else []
            if entries:
                last = entries[-1][0]
                self._dispatch(_Entries(entries))
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= self._heartbeat_s and not self._lagging():
                self._dispatch(_HEARTBEAT)
                quiet_since = time.monotonic()

    def _dispatch(self, item: _Item) -> None:
        for queue in list(self._subscribers):
            if queue.qsize() >= self._max_queued:
                self._subscribers.discard(queue)
                queue.put_nowait(_LAGGED)
            elif item is not _HEARTBEAT or queue.empty():
                queue.put_nowait(item)

    def _fail_all(self, error: Exception) -> None:
        for queue in self._subscribers:
            queue.put_nowait(_Failure(error))
        self._subscribers.clear()
