"""The revocation outbox relay: how an end of sessions reaches the revocation stream at
least once, whatever fails in between.

The problem. A script may only touch one slot (the user's), and the revocation stream
``<prefix>:{revocations}`` is in another. Appending the event with a second call after
the script loses it if that call fails, if the stream's shard is unreachable, or if the
process dies in between; verifiers would then accept the session's tokens until they
expire.

The outbox. The script that ends sessions also writes their event into the user's
outbox (``<prefix>:{<tag>}:o``, same slot, see ``record_ended`` in lua/_lib.lua), so the
end and its event are one atomic step. The event names the user whose sessions ended
when the script knows they were one user's (read from the session hashes, or checked
against them), and every stream entry of it carries that user id. The relay copies
outbox entries to the stream (``publish_revocation.lua``, which ignores a chunk id it has
appended before, so any number of relays and retries append each event once) and only
then deletes them (``outbox_ack.lua``). A large event is appended in chunks of at most
``CHUNK_SESSIONS`` session ids, so no stream entry or WatchRevocations response comes
near a client's 4 MiB receive limit.

Finding outboxes without scanning. Each event is noted as ``'<tag> <event id>'`` in one
of ``PENDING_INDEXES`` small sorted sets, each in its own slot. Every script that may end
sessions runs through :meth:`RevocationRelay.record`, which chooses how. In a cluster
the index is in another slot than the user's keys, so the event is noted before the
script (``outbox_register.lua``); if the first index is unreachable the next is tried,
so a note needs one reachable shard. On a single Redis, where every key is on one
server, the script notes the event itself, in the same atomic step as the event and
only when it records one (``record_ended`` in lua/_lib.lua): no round trip before it,
and nothing to drop when it ended nothing. After the script the same process relays
the outbox at once (the fast path) and drops the note. Every replica also runs
:meth:`RevocationRelay.run`: it reads the notes older than ``settle_after`` seconds
(left behind by a failed publish, an unreachable stream shard, or a replica that died
after its script), relays their outboxes, and drops a note once its event is in the
stream, or once it is older than ``abandon_after`` (by then the script it announced has
finished or never ran, and wrote no event: it ended no session).

Refresh-token reuse is detected inside the rotate script, which runs on every Refresh
and records no event: the session is then ended by the revoke script, through
:meth:`RevocationRelay.record` like any Revoke, so the hottest write needs no note.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import secrets
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from session_wire.tasks import raise_if_cancel_requested, stop_tasks

from session_service.errors import StoreUnavailable
from session_service.store.execution import ScriptRunner, translate_errors
from session_service.store.keys import PENDING_INDEXES, KeySchema
from session_service.store.scripts import Scripts

log = logging.getLogger(__name__)

Reply = TypeVar("Reply")

CHUNK_SESSIONS = 500
"""Session ids per stream entry: about 20 KiB, far below any gRPC message limit."""

_SETTLE_BATCH_S = 0.005
"""How long the notes of finished fast-path relays gather before one script drops them."""

_USER_TOKEN = "u="
"""Starts the outbox entry's token that names the user (percent-encoded, see
record_ended in lua/_lib.lua); no session nonce has a ``=``."""

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
    """Which pending-outbox index holds the note (-1: none)."""

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

    async def record(
        self,
        tag: str,
        now_ms: int,
        reason: str,
        script: Callable[[EventRecording], Awaitable[Reply]],
        recorded: Callable[[Reply], bool],
        *,
        outbox: Callable[[Reply], Mapping[bytes, bytes]] | None = None,
        note_first: bool = True,
    ) -> Reply:
        """Runs ``script``, which may record one revocation event of the user ``tag``, and
        brings the event to the stream: the one way every script that ends sessions runs.

        ``script`` gets an :class:`EventRecording` and passes its ``keys`` after its own
        KEYS and its ``args`` as the outbox ARGV (see record_ended in lua/_lib.lua).
        ``recorded`` tells from the reply whether the script recorded the event;
        ``outbox``, when the script returns it, the user's outbox as the script left it.
        ``note_first`` False: ``script`` calls :meth:`EventRecording.note_first` itself,
        before a run that may record (Create, only for a user at the limit).

        In a cluster the event is noted before the script (or, when it was not, right
        after it if it recorded one); on a single Redis the script notes it. Then the
        outbox is relayed at once (the fast path) and the note dropped."""
        recording = EventRecording(self, tag, now_ms, reason)
        if note_first:
            await recording.note_first()
        reply = await script(recording)
        await recording.finish(recorded(reply), outbox(reply) if outbox is not None else None)
        return reply

    def _new_event(self, tag: str) -> OutboxEvent:
        return OutboxEvent(tag, secrets.token_urlsafe(12), -1)

    def _in_script_note(self, tag: str) -> int | None:
        # The pending-outbox index the script notes its event in; None in a cluster.
        return None if self._runner.cluster else _first_index(tag)

    async def _note(self, event: OutboxEvent) -> OutboxEvent:
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

    async def _note_after(self, event: OutboxEvent) -> OutboxEvent:
        """Notes an event whose script has already run; without a reachable index the
        fast path still relays it, only a crash before that would leave it unfound."""
        try:
            return await self._note(event)
        except StoreUnavailable:
            return event

    async def _after_script(self, event: OutboxEvent, outbox: Mapping[bytes, bytes] | None) -> None:
        """The fast path, right after the script: relays the outbox, then drops the note.

        ``outbox``: the user's outbox as the script left it, when the script returned it
        (saves reading it again); None reads it.

        Waits up to one Redis timeout; what is left then (the stream's shard slow or
        unreachable) goes on in the background, and what fails is left to :meth:`run`
        of any replica. Never raises: the end of the sessions is already durable."""
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
            user = ""
            if members and members[0].startswith(_USER_TOKEN):
                user = urllib.parse.unquote(members.pop(0).removeprefix(_USER_TOKEN))
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
                        user,
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

    async def run(self, stopping: asyncio.Event | None = None) -> None:
        """Every ``interval``: relays the outboxes that notes older than ``settle_after`` name.

        Ends when cancelled or, between two Redis calls, once ``stopping`` is set: a
        cancellation absorbed inside a Redis call must not keep a stopping replica's relay
        going (what it leaves is found by the other replicas)."""
        stopping = stopping if stopping is not None else asyncio.Event()
        while not stopping.is_set():
            try:
                await self.recover_once(stopping)
            except Exception:
                raise_if_cancel_requested()
                # Whatever it was, a relay that stops is worse: try again next round.
                log.exception("revocation relay pass failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await stopping.wait()

    async def recover_once(self, stopping: asyncio.Event | None = None) -> int:
        """One pass over the pending-outbox indexes; how many events it relayed. A set
        ``stopping`` ends the pass before its next Redis call."""
        now_s = time.time()
        before_ms = int((now_s - self._settle_after) * 1000)
        relayed_total = 0
        unresolved = False
        for n in range(PENDING_INDEXES):
            if stopping is not None and stopping.is_set():
                return relayed_total
            try:
                # Through the lane: this pass runs twice a second on every replica.
                flat = await self._runner.read_once(
                    "ZRANGEBYSCORE", self._keys.pending(n), "-inf", before_ms, "WITHSCORES", "LIMIT", 0, 200
                )
            except StoreUnavailable:
                # A stop whose cancellation the Redis client turned into an error ends the
                # pass here, rather than after a Redis time-out for every index left.
                raise_if_cancel_requested()
                # Its notes may name events nobody relays yet: the view is not known to be whole.
                unresolved = True
                continue
            by_tag: dict[str, list[tuple[str, str, float]]] = {}
            for member, score in zip(flat[::2], flat[1::2], strict=True):
                tag, _, event_id = _text(member).partition(" ")
                by_tag.setdefault(tag, []).append((_text(member), event_id, float(score)))
            done: list[str] = []
            for tag, tag_notes in by_tag.items():
                if stopping is not None and stopping.is_set():
                    return relayed_total
                try:
                    relayed = await self.drain(tag)
                except StoreUnavailable as e:
                    raise_if_cancel_requested()
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


class EventRecording:
    """One script call that may record a revocation event (see :meth:`RevocationRelay.record`)."""

    def __init__(self, relay: RevocationRelay, tag: str, now_ms: int, reason: str) -> None:
        self._relay = relay
        self._event = relay._new_event(tag)
        self._in_script = relay._in_script_note(tag)
        noted_at: str | int = "" if self._in_script is None else int(time.time() * 1000)
        self.keys: list[str] = [] if self._in_script is None else [relay._keys.pending(self._in_script)]
        """KEYS after the script's own: the pending-outbox index it notes the event in, if any."""
        self.args: list[str | int] = [
            self._event.event_id,
            now_ms + relay._window_ms,
            reason,
            relay._retention_ms,
            noted_at,
        ]
        """The script's five outbox ARGV (see record_ended in lua/_lib.lua)."""

    async def note_first(self) -> None:
        """Notes the event before a run of the script that may record it, once. Only in a
        cluster: on a single Redis the script notes what it records itself."""
        if self._in_script is None and self._event.index < 0:
            self._event = await self._relay._note(self._event)

    async def finish(self, recorded: bool, outbox: Mapping[bytes, bytes] | None) -> None:
        """After the script: notes a recorded event that has no note yet, relays, drops the note."""
        event = self._event
        if self._in_script is not None:
            # The script wrote a note only with the event (one a lost first run wrote is
            # dropped by run() once it finds the outbox relayed).
            event = OutboxEvent(event.tag, event.event_id, self._in_script if recorded else -1)
        elif recorded and event.index < 0:
            # Ended although no note came first (the user reached the limit between the
            # read of the index and the script): noted now.
            event = await self._relay._note_after(event)
        if not recorded and event.index < 0 and not outbox:
            return  # nothing recorded, noted or left behind
        await self._relay._after_script(event, outbox)


def _first_index(tag: str) -> int:
    # The pending-outbox index a user's notes go to first.
    return int.from_bytes(tag.encode()[:4], "big") % PENDING_INDEXES


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
