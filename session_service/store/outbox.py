"""The revocation outbox relay: how an end of sessions reaches the revocation stream at
least once, whatever fails in between.

The problem. A script may only touch one slot (the user's), and the revocation stream
``<prefix>:{revocations}`` is in another. Appending the event with a second call after
the script loses it if that call fails, if the stream's shard is unreachable, or if the
process dies in between; verifiers would then accept the session's tokens until they
expire.

The outbox. The script that ends sessions also writes their event into the user's
outbox (``<prefix>:{<tag>}:o``, same slot, see ``record_ended`` in lua/_lib.lua), so the
end and its event are one atomic step. The relay copies outbox entries to the stream
(``publish_revocation.lua``, which ignores a chunk id it has appended before, so any
number of relays and retries append each event once) and only then deletes them
(``outbox_ack.lua``). A large event is appended in chunks of at most
``CHUNK_SESSIONS`` session ids, so no stream entry or WatchRevocations response comes
near a client's 4 MiB receive limit.

Finding outboxes without scanning. Before running a script that may end sessions, the
store notes ``'<tag> <event id>'`` in one of ``PENDING_INDEXES`` small sorted sets
(``outbox_register.lua``), each in its own slot; if the first is unreachable the next
is tried, so a note needs one reachable shard. On a single Redis, where every key is
on one server, the per-session revoke script writes its note itself, in the same atomic
step as the event (and only when it records one): no round trip before it, and nothing
to drop when it ended nothing. After the script the same process
relays the outbox at once (the fast path) and drops its note. Every replica also runs
:meth:`RevocationRelay.run`: it reads the notes older than ``settle_after`` seconds
(left behind by a failed publish, an unreachable stream shard, or a replica that died
after its script), relays their outboxes, and drops a note once its event is in the
stream, or once it is older than ``abandon_after`` (the script it announced can no
longer be running and wrote nothing: it ended no session, or never ran).

Refresh-token reuse is detected inside the rotate script, which runs on every Refresh;
noting every Refresh in advance would double the cost of the hottest write, so that
note is written right after the script instead. The one gap: a replica killed within
that round trip leaves an event that only the next revoke of that user relays (README,
WatchRevocations).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from session_service.errors import StoreUnavailable
from session_service.store.execution import ScriptRunner, translate_errors
from session_service.store.keys import PENDING_INDEXES, KeySchema
from session_service.store.scripts import Scripts
from session_service.tasks import raise_if_cancel_requested, stop_tasks

log = logging.getLogger(__name__)

CHUNK_SESSIONS = 500
"""Session ids per stream entry: about 20 KiB, far below any gRPC message limit."""

_SETTLE_BATCH_S = 0.005
"""How long the notes of finished fast-path relays gather before one script drops them."""

REVOCATION_RETENTION_MARGIN_MS = 60_000
"""Revocation events are kept this much longer than they matter, for clock skew between
the service and Redis (trimming uses the Redis clock)."""


@dataclass(frozen=True)
class OutboxEvent:
    """An event a script is about to record in a user's outbox, and its note."""

    tag: str
    """The user's slot tag."""
    event_id: str
    """The outbox field; unique."""
    index: int
    """Which pending-outbox index holds the note (-1: none yet)."""
    noted_by_script: bool = False
    """The script that records the event writes its note too, only if it records it."""

    @property
    def note(self) -> str:
        """The member of the pending-outbox index."""
        return f"{self.tag} {self.event_id}"


class RevocationRelay:
    """Moves revocation events from the users' outboxes to the revocation stream."""

    def __init__(
        self,
        client: Any,
        keys: KeySchema,
        scripts: Scripts,
        runner: ScriptRunner,
        *,
        window_ms: int,
        redis_timeout: float,
        retry_timeout: float,
        interval: float = 0.5,
        settle_after: float = 1.0,
        exit_before_relay: bool = False,
    ) -> None:
        self._client = client
        self._keys = keys
        self._scripts = scripts
        self._runner = runner
        self._window_ms = window_ms
        self._retention_ms = window_ms + REVOCATION_RETENTION_MARGIN_MS
        self._redis_timeout = redis_timeout
        self._interval = interval
        self._settle_after = settle_after
        # A script started after its note runs for at most the retry budget plus one
        # attempt's timeout; a note older than twice that announced nothing more to come.
        self._abandon_after = max(2 * (retry_timeout + redis_timeout) + 1.0, 3 * settle_after)
        self._exit_before_relay = exit_before_relay
        self._unreachable_until: dict[int, float] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.on_recovered: Callable[[int], None] = lambda events: None
        """Told how many events each recovery pass relayed (metrics)."""
        self._to_settle: dict[int, list[str]] = {}
        self._settler: asyncio.Task[None] | None = None
        self._lagging_since: float | None = None

    @property
    def window_ms(self) -> int:
        """How long after it an event matters (the longest access-token lifetime plus leeway)."""
        return self._window_ms

    @property
    def lagging(self) -> bool:
        """Whether an event older than ``settle_after`` could not be relayed on the last pass."""
        return self._lagging_since is not None

    def new_event(self, tag: str) -> OutboxEvent:
        """An event id for a script that may end sessions of the user ``tag``."""
        return OutboxEvent(tag, secrets.token_urlsafe(12), -1)

    def outbox_args(self, event: OutboxEvent, now_ms: int, reason: str) -> list[str | int]:
        """The four outbox ARGV of a script (see record_ended in _lib.lua)."""
        return [event.event_id, now_ms + self._window_ms, reason, self._retention_ms]

    async def note(self, event: OutboxEvent) -> OutboxEvent:
        """Notes the event in a reachable pending-outbox index, before its script runs.

        Tries the indexes in turn from one chosen by the tag, skipping those that failed
        lately; StoreUnavailable when none is reachable (then no script has run)."""
        first = _first_index(event.tag)
        order = [(first + i) % PENDING_INDEXES for i in range(PENDING_INDEXES)]
        now = time.monotonic()
        order.sort(key=lambda n: self._unreachable_until.get(n, 0.0) > now)
        last_error: StoreUnavailable | None = None
        for n in order:
            try:
                async with asyncio.timeout(self._redis_timeout):
                    await translate_errors(
                        self._runner.once(
                            self._scripts.outbox_register,
                            [self._keys.pending(n)],
                            [event.note, int(time.time() * 1000), self._retention_ms],
                        )
                    )
            except (StoreUnavailable, TimeoutError) as e:
                self._unreachable_until[n] = time.monotonic() + 5.0
                last_error = e if isinstance(e, StoreUnavailable) else StoreUnavailable(str(e) or "timeout")
                continue
            self._unreachable_until.pop(n, None)
            return OutboxEvent(event.tag, event.event_id, n)
        raise last_error or StoreUnavailable("no pending-outbox index reachable")

    async def noted_for_script(self, tag: str) -> tuple[OutboxEvent, list[str], list[str | int]]:
        """A new event of the user ``tag`` for a script that ends sessions, and the extra
        KEYS and ARGV of that script (see revoke.lua).

        In a cluster the event is noted now, before the script (:meth:`note`). On a single
        Redis, where the pending-outbox indexes and the user's keys are on one server, the
        script notes it itself, in the same atomic step as the event and only when it
        records one: no round trip before it, and no note to drop when nothing ended."""
        event = self.new_event(tag)
        if self._runner.cluster:
            return await self.note(event), [], []
        n = _first_index(tag)
        in_script = OutboxEvent(tag, event.event_id, n, noted_by_script=True)
        return in_script, [self._keys.pending(n)], [int(time.time() * 1000), self._retention_ms]

    async def after_script(
        self, event: OutboxEvent, *, recorded: bool, outbox: Mapping[bytes, bytes] | None = None
    ) -> None:
        """The fast path, right after the script: relays the outbox, then drops the note.

        ``outbox``: the user's outbox as the script left it, when the script returned it
        (saves reading it again); None reads it.

        Waits up to one Redis timeout; what is left then (the stream's shard slow or
        unreachable) goes on in the background, and what fails is left to :meth:`run`
        of any replica. Never raises: the end of the sessions is already durable."""
        if recorded and self._exit_before_relay:
            # Test hook (SESSION_TEST_EXIT_BEFORE_RELAY): die like a SIGKILL between the
            # script and the relay.
            os._exit(137)
        if event.noted_by_script and not recorded:
            # The script noted nothing: no note to drop (one that a lost first run wrote is
            # dropped by run() once it finds the outbox relayed).
            event = OutboxEvent(event.tag, event.event_id, -1)
        if outbox is not None and not outbox:
            # Nothing to relay (nothing ended, nothing left behind): only the note goes.
            self._settle_soon(event)
            return
        task = asyncio.create_task(self._relay_own(event, outbox), context=contextvars.Context())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._redis_timeout):
                await asyncio.shield(task)

    async def _relay_own(self, event: OutboxEvent, outbox: Mapping[bytes, bytes] | None) -> None:
        try:
            # Drained even when this script recorded nothing: it also relays what an
            # earlier call may have left there without a note (see the module docstring).
            await self.drain(event.tag, outbox)
            self._settle_soon(event)
        except StoreUnavailable as e:
            log.warning("revocation event left in its outbox for the relay: %s", e)
        except Exception:
            # The session end is already durable and noted: a failure here is the relay's to
            # retry, never the caller's error (after_script must not raise).
            log.exception("revocation event left in its outbox for the relay")

    async def drain(self, tag: str, entries: Mapping[bytes, bytes] | None = None) -> set[str]:
        """Appends every event in the user's outbox to the stream, then deletes them.

        ``entries``: the outbox as just read (None reads it). Returns the ids of the
        events relayed."""
        outbox = self._keys.outbox(tag)
        if entries is None:
            entries = await translate_errors(self._client.hgetall(outbox))
        if not entries:
            return set()
        for raw_id, raw in entries.items():
            event_id = _text(raw_id)
            at, exp, reason, entry_tag, *members = _text(raw).split(" ")
            sids = [f"{entry_tag}.{m}" for m in members]
            for n, start in enumerate(range(0, len(sids), CHUNK_SESSIONS)):
                await self._runner.run(
                    self._scripts.publish_revocation,
                    [self._keys.revocations(), self._keys.published()],
                    [
                        self._retention_ms,
                        f"{event_id}/{n}",
                        at,
                        exp,
                        reason,
                        " ".join(sids[start : start + CHUNK_SESSIONS]),
                    ],
                    retry_after_loss=True,  # the chunk id makes a repeat a no-op
                    durable=True,
                )
        relayed = {_text(k) for k in entries}
        await self._runner.run(self._scripts.outbox_ack, [outbox], sorted(relayed), retry_after_loss=True)
        return relayed

    def _settle_soon(self, event: OutboxEvent) -> None:
        """Drops the event's note in the next batch: one script per index for all the
        notes of the calls that finished meanwhile, instead of one per call. A note
        whose batch fails stays for :meth:`run` (which finds its outbox relayed)."""
        if event.index < 0:
            return
        self._to_settle.setdefault(event.index, []).append(event.note)
        if self._settler is None or self._settler.done():
            self._settler = asyncio.create_task(self._settle_batches(), context=contextvars.Context())
            self._background.add(self._settler)
            self._settler.add_done_callback(self._background.discard)

    async def _settle_batches(self) -> None:
        while self._to_settle:
            await asyncio.sleep(_SETTLE_BATCH_S)  # the calls finishing meanwhile join this batch
            batches, self._to_settle = self._to_settle, {}
            for index, notes in batches.items():
                try:
                    await self._settle(index, notes)
                except StoreUnavailable as e:
                    log.warning("revocation notes left for the relay's next pass: %s", e)

    async def _settle(self, index: int, notes: Sequence[str]) -> None:
        await self._runner.run(
            self._scripts.outbox_settle, [self._keys.pending(index)], notes, retry_after_loss=True
        )

    async def run(self) -> None:
        """Every ``interval``: relays the outboxes that notes older than ``settle_after`` name."""
        while True:
            try:
                await self.recover_once()
            except Exception:
                raise_if_cancel_requested()
                # Whatever it was, a relay that stops is worse: try again next round.
                log.exception("revocation relay pass failed")
            await asyncio.sleep(self._interval)

    async def recover_once(self) -> int:
        """One pass over the pending-outbox indexes; how many events it relayed."""
        now_s = time.time()
        before_ms = int((now_s - self._settle_after) * 1000)
        relayed_total = 0
        unresolved = False
        for n in range(PENDING_INDEXES):
            try:
                notes = await translate_errors(
                    self._client.zrangebyscore(
                        self._keys.pending(n), "-inf", before_ms, start=0, num=200, withscores=True
                    )
                )
            except StoreUnavailable:
                # Its notes may name events nobody relays yet: the view is not known to be whole.
                unresolved = True
                continue
            by_tag: dict[str, list[tuple[str, str, float]]] = {}
            for member, score in notes:
                tag, _, event_id = _text(member).partition(" ")
                by_tag.setdefault(tag, []).append((_text(member), event_id, float(score)))
            done: list[str] = []
            for tag, tag_notes in by_tag.items():
                try:
                    relayed = await self.drain(tag)
                except StoreUnavailable as e:
                    unresolved = True
                    log.warning("could not relay the revocation outbox of a user yet: %s", e)
                    continue
                relayed_total += len(relayed)
                for member, event_id, score in tag_notes:
                    if event_id in relayed or now_s - score / 1000 > self._abandon_after:
                        done.append(member)
                    else:
                        # Its script may still be running (or ended nothing): look again later.
                        pass
            if done:
                with contextlib.suppress(StoreUnavailable):
                    await self._settle(n, done)
        if unresolved and self._lagging_since is None:
            self._lagging_since = time.monotonic()
            log.warning("revocation relay is behind: some events cannot reach the stream yet")
        elif not unresolved and self._lagging_since is not None:
            log.info("revocation relay caught up after %.1fs", time.monotonic() - self._lagging_since)
            self._lagging_since = None
        if relayed_total:
            log.info("revocation relay recovered %d event(s) left in outboxes", relayed_total)
            self.on_recovered(relayed_total)
        return relayed_total

    async def close(self) -> None:
        """Waits briefly for fast-path relays in flight; the rest is left to other replicas."""
        if self._background:
            await asyncio.wait(list(self._background), timeout=self._redis_timeout)
        await stop_tasks(list(self._background), within=1.0, what="revocation relay")


def _first_index(tag: str) -> int:
    # The pending-outbox index a user's notes go to first.
    return int.from_bytes(tag.encode()[:4], "big") % PENDING_INDEXES


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
