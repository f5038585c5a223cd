"""The lane: pipelined Redis connections of our own, for a standalone Redis and a cluster.

Every RPC is one script call, so what a call costs on top of the round trip matters.
redis-py's asyncio clients take a connection from a pool under a lock per call, wrap
each write and read in time-outs and give one connection to one call at a time. This
lane sends the calls for one Redis node on one connection, in order, and matches the
replies to the calls in the same order, as Redis answers them (RESP has no other way;
this is how pipelining works). The commands of the calls made in one turn of the event
loop leave in one write, and one read takes the replies of as many calls as have arrived.

Built on public APIs only: asyncio streams (TLS through an ``ssl.SSLContext``), and
``hiredis.Reader`` to parse RESP2 replies.

- Each connection is greeted by the lane itself: AUTH (user and password), SELECT of the
  database on a standalone Redis, READONLY on a cluster replica; all in one write.
- Error replies become redis-py's exception classes (``redis.exceptions``: NoScriptError,
  OutOfMemoryError, MovedError, AskError, TryAgainError, ClusterDownError, ...), chosen
  by the reply's first word (:func:`reply_error`), so the retry policy of execution.py
  handles them alike wherever they come from.
- A cancelled call keeps its place: its reply is read and dropped when it comes, so the
  replies after it still reach their own calls.
- When a reply is overdue (SESSION_REDIS_TIMEOUT), or the connection fails or closes,
  every call waiting on it fails (TimeoutError or ConnectionError: "may have run") and
  the connection is dropped; the next call opens a new one. A call that never left
  (the connect failed, or the connection closed before its write) fails
  :class:`NotSentError`: nothing ran, so it is safe to retry.

On a cluster (:class:`ClusterLane`) there is one such connection per primary, and per
replica when reads may go to replicas (read-only commands only). A command goes to the
node that owns its key's slot, from the slot map read with CLUSTER SLOTS over the
lane's own connections (from any known node, else a seed). MOVED patches the slot map,
re-reads the topology in the background, and sends the command again to the new owner
at once; ASK sends ASKING and the command to the named node in one write. Both mean the
command was not executed, so following them is safe for every command. A node whose
connection fails makes the lane re-read the topology too. Redirections beyond a few are
raised for execution.py to retry with backoff.

With tracing, each round trip the lane makes within a sampled call is a client span
(:class:`RoundTripSpans`, from telemetry.py); nothing is created for a call that is not
sampled.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import hiredis
from redis import exceptions as rx
from redis.crc import key_slot

from session_service.store.scripts import pack_command

log = logging.getLogger(__name__)

_READ_BYTES = 65536
_REDIRECTS = 5
"""Redirections one call follows at once; more are raised (retried with backoff)."""
_REFRESH_INTERVAL = 0.1
"""Seconds between two topology reads at the most."""

Address = tuple[str, int]


class NotSentError(rx.ConnectionError):
    """The command never left: the connect failed, or the connection closed before the write."""


_ERRORS: dict[str, type[rx.RedisError]] = {
    "NOSCRIPT": rx.NoScriptError,
    "OOM": rx.OutOfMemoryError,
    "TRYAGAIN": rx.TryAgainError,
    "CLUSTERDOWN": rx.ClusterDownError,
    "READONLY": rx.ReadOnlyError,
    "LOADING": rx.BusyLoadingError,
    "MASTERDOWN": rx.MasterDownError,
    "NOPERM": rx.NoPermissionError,
    "EXECABORT": rx.ExecAbortError,
    "CROSSSLOT": rx.ClusterCrossSlotError,
}


def reply_error(message: str) -> rx.RedisError:
    """The redis-py exception for an error reply, by its first word (the error code).

    MOVED and ASK carry ``<slot> <host>:<port>`` as redis-py's classes expect; the others
    keep the whole reply, code first, as their message."""
    code, _, rest = message.partition(" ")
    if code in ("MOVED", "ASK"):
        with contextlib.suppress(ValueError):
            return rx.MovedError(rest) if code == "MOVED" else rx.AskError(rest)
    if code in ("WRONGPASS", "NOAUTH"):
        return rx.AuthenticationError(message)
    return _ERRORS.get(code, rx.ResponseError)(message)


class RoundTripSpans(Protocol):
    """Opens a client span per round trip when the current call is sampled (telemetry.py)."""

    def start(self, name: str, operation: str, address: Address, database: int | None, batch: int) -> Any:
        """A started span, or None when the current call is not sampled."""

    def end(self, span: Any, error: BaseException | None) -> None:
        """Ends a span ``start`` returned, recording the error class if there was one."""


@dataclass(frozen=True)
class LinkOptions:
    """How the lane connects to and greets a node."""

    timeout: float | None = 2.0
    """Seconds to connect, and for a reply to arrive."""
    username: str | None = None
    password: str | None = None
    database: int = 0
    """SELECTed on a standalone Redis (a cluster has only 0)."""
    tls: ssl.SSLContext | None = None
    unix_socket: str | None = None
    """A standalone Redis's Unix socket path, instead of the address's TCP port."""


class _Link:
    """One connection and the calls waiting on it, oldest first."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float | None
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.timeout = timeout
        # (future or None for a reply to drop, deadline); the last `unsent` are still in `outgoing`.
        self.waiting: collections.deque[tuple[asyncio.Future[Any] | None, float]] = collections.deque()
        self.outgoing: list[bytes] = []
        self.unsent = 0
        self.error: Exception | None = None
        self.parser = hiredis.Reader(
            protocolError=rx.InvalidResponse, replyError=reply_error, notEnoughData=False
        )
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.reading = loop.create_task(self._read(), name="redis-lane-reader")
        self.watchdog: asyncio.TimerHandle | None = None

    def send(self, packed: bytes, replies: int = 1, extra_time: float = 0.0) -> asyncio.Future[Any]:
        """Queues ``packed`` (``replies`` commands); the future gets the last reply, the
        replies before it are dropped (ASKING's OK). ``extra_time``: seconds the command
        may block in Redis (WAIT) on top of the reply time-out."""
        if self.error is not None:
            raise _fresh(self.error, sent=False)
        future: asyncio.Future[Any] = self.loop.create_future()
        deadline = self.loop.time() + self.timeout + extra_time if self.timeout else 0.0
        for _ in range(replies - 1):
            self.waiting.append((None, deadline))
        self.waiting.append((future, deadline))
        if not self.outgoing:
            self.loop.call_soon(self._flush)
        self.outgoing.append(packed)
        self.unsent += replies
        if self.timeout and self.watchdog is None:
            self.watchdog = self.loop.call_later(self.timeout / 4, self._watch)
        return future

    def _flush(self) -> None:
        if self.error is not None or not self.outgoing:
            return
        if self.writer.transport.is_closing():
            self.fail(rx.ConnectionError("Connection closed by server."))
            return
        chunks, self.outgoing = self.outgoing, []
        try:
            self.writer.writelines(chunks)
        except Exception as e:  # a transport closed under us: uvloop raises, nothing left
            self.fail(rx.ConnectionError(f"Error while writing to Redis: {e}"))
            return
        self.unsent = 0

    async def _read(self) -> None:
        try:
            while True:
                data = await self.reader.read(_READ_BYTES)
                if not data:
                    raise rx.ConnectionError("Connection closed by server.")
                self.parser.feed(data)
                while (reply := self.parser.gets()) is not False:
                    if not self.waiting:
                        raise rx.InvalidResponse("a reply that no call waits for")
                    future, _ = self.waiting.popleft()
                    if future is None or future.done():  # dropped (cancelled caller, ASKING)
                        continue
                    if isinstance(reply, Exception):  # an error reply (reply_error made it)
                        future.set_exception(reply)
                    else:
                        future.set_result(reply)
        except asyncio.CancelledError:
            self.fail(rx.ConnectionError("the lane is closed"))
            raise
        except (rx.ConnectionError, rx.TimeoutError) as e:
            self.fail(e)
        except rx.RedisError as e:
            # Bytes hiredis cannot parse, or a reply no call waits for: the connection is
            # out of step, which callers handle as a lost connection (retried where safe,
            # else UNAVAILABLE), never as an error of their own request.
            self.fail(rx.ConnectionError(f"Redis connection out of step: {e}"))
        except OSError as e:
            self.fail(rx.ConnectionError(f"Error while reading from Redis: {e}"))

    def _watch(self) -> None:
        self.watchdog = None
        if self.error is not None or not self.waiting:
            return
        _, deadline = self.waiting[0]
        if self.loop.time() >= deadline:
            self.fail(rx.TimeoutError("Timeout reading from Redis"))
            return
        assert self.timeout is not None
        self.watchdog = self.loop.call_later(self.timeout / 4, self._watch)

    def fail(self, error: Exception) -> None:
        """Fails every waiting call and closes the connection (it is out of step now).

        The calls whose commands were still queued fail NotSentError: they never left."""
        if self.error is None:
            self.error = error
        sent = len(self.waiting) - self.unsent
        while self.waiting:
            future, _ = self.waiting.popleft()
            if future is not None and not future.done():
                # Each call its own exception object: one raised in many tasks at once
                # would collect all their tracebacks.
                future.set_exception(_fresh(error, sent=sent > 0))
            sent -= 1
        self.outgoing = []
        self.unsent = 0
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None
        with contextlib.suppress(Exception):
            self.writer.close()
        if not self.reading.done() and asyncio.current_task() is not self.reading:
            self.reading.cancel()


def _fresh(error: Exception, *, sent: bool) -> Exception:
    if not sent:
        return NotSentError(f"not sent: {error}")
    try:
        return type(error)(*error.args)
    except Exception:
        return error


class NodeLane:
    """The pipelined connection to one Redis node, opened again when it fails."""

    def __init__(
        self,
        address: Address,
        options: LinkOptions,
        *,
        select: bool = True,
        readonly: bool = False,
        spans: RoundTripSpans | None = None,
    ) -> None:
        self.address = address
        self._options = options
        self._database = options.database if select else None
        self.replica = readonly
        """Whether this is a cluster replica's connection (greeted with READONLY)."""
        self._spans = spans
        self._link: _Link | None = None
        self._connecting: asyncio.Future[_Link] | None = None
        self._closed = False

    @property
    def broken(self) -> bool:
        """Whether the last connection failed (the next call reconnects)."""
        return self._link is not None and self._link.error is not None

    async def call(self, packed: bytes, name: str = "", *, asking: bool = False) -> Any:
        """Sends one packed command and returns its reply; an error reply raises its
        redis-py exception. ``asking``: preceded by ASKING, in the same write."""
        span = (
            self._spans.start(name, _operation(name), self.address, self._database, 1)
            if self._spans
            else None
        )
        try:
            link = self._link
            if link is None or link.error is not None:
                link = await self._connect()
            future = link.send(_ASKING + packed, 2) if asking else link.send(packed)
            try:
                reply = await future
            except asyncio.CancelledError:
                future.cancel()  # its reply, when it comes, is dropped
                raise
        except BaseException as e:
            if span is not None:
                self._spans.end(span, e)  # type: ignore[union-attr]
            raise
        if span is not None:
            self._spans.end(span, None)  # type: ignore[union-attr]
        return reply

    async def call_many(
        self, packed: Sequence[bytes], name: str = "", *, asking: bool = False, extra_time: float = 0.0
    ) -> list[Any]:
        """Sends the commands in one write; their replies in order, an error reply as its
        exception object in its place. ``asking``: ASKING before the first; ``extra_time``:
        seconds the last may block in Redis (WAIT) on top of the reply time-out."""
        span = (
            self._spans.start(name, _operation(name), self.address, self._database, len(packed))
            if self._spans
            else None
        )
        error: BaseException | None = None
        try:
            link = self._link
            if link is None or link.error is not None:
                link = await self._connect()
            last = len(packed) - 1
            futures = [
                link.send(
                    _ASKING + command if asking and n == 0 else command,
                    2 if asking and n == 0 else 1,
                    extra_time if n == last else 0.0,
                )
                for n, command in enumerate(packed)
            ]
            try:
                replies = await asyncio.gather(*futures, return_exceptions=True)
            except asyncio.CancelledError:
                for future in futures:
                    future.cancel()
                raise
            for reply in replies:
                if isinstance(reply, (rx.ConnectionError, rx.TimeoutError)):
                    raise reply
            return list(replies)
        except BaseException as e:
            error = e
            raise
        finally:
            if span is not None:
                self._spans.end(span, error)  # type: ignore[union-attr]

    async def _connect(self) -> _Link:
        if self._closed:
            raise NotSentError("the lane is closed")
        if self._connecting is None:
            # One connect for all the calls that find no connection at the same time.
            self._connecting = asyncio.ensure_future(self._open())
            self._connecting.add_done_callback(self._connected)
        return await asyncio.shield(self._connecting)

    async def _open(self) -> _Link:
        host, port = self.address
        options = self._options
        try:
            async with asyncio.timeout(options.timeout):
                if options.unix_socket:
                    reader, writer = await asyncio.open_unix_connection(
                        options.unix_socket, limit=_READ_BYTES
                    )
                else:
                    tls_name = host if options.tls else None
                    reader, writer = await asyncio.open_connection(
                        host, port, ssl=options.tls, server_hostname=tls_name, limit=_READ_BYTES
                    )
        except (OSError, TimeoutError, ssl.SSLError) as e:
            raise NotSentError(f"Error connecting to {host}:{port}: {e or type(e).__name__}") from e
        link = _Link(reader, writer, options.timeout)
        greeting = []
        if options.password is not None:
            auth = (
                ("AUTH", options.username, options.password)
                if options.username
                else ("AUTH", options.password)
            )
            greeting.append(pack_command(*auth))
        if self._database:
            greeting.append(pack_command("SELECT", self._database))
        if self.replica:
            greeting.append(pack_command("READONLY"))
        try:
            for reply in [link.send(command) for command in greeting]:
                await reply
        except rx.ResponseError as e:
            link.fail(NotSentError(f"Redis refused the connection's greeting on {host}:{port}"))
            raise NotSentError(f"Error connecting to {host}:{port}: {e}") from e
        except (rx.ConnectionError, rx.TimeoutError) as e:
            link.fail(e)
            raise NotSentError(f"Error connecting to {host}:{port}: {e}") from e
        if self._closed:
            link.fail(NotSentError("the lane is closed"))
            raise NotSentError("the lane is closed")
        self._link = link
        return link

    def _connected(self, done: asyncio.Future[_Link]) -> None:
        self._connecting = None
        if not done.cancelled():
            done.exception()  # retrieved here; the waiting calls raise it

    def abort(self) -> None:
        """Closes the connection's transport at once (as a network reset would)."""
        if self._link is not None:
            self._link.writer.transport.abort()

    async def close(self) -> None:
        """Fails the calls still waiting and closes the connection."""
        self._closed = True
        link, self._link = self._link, None
        if link is not None:
            link.fail(rx.ConnectionError("the lane is closed"))
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait({link.reading}, timeout=1.0)


_ASKING = pack_command("ASKING")
_CLUSTER_SLOTS = pack_command("CLUSTER", "SLOTS")


def _operation(name: str) -> str:
    return name.partition(" ")[0]


def _key_of(command: Sequence[str | int | bytes]) -> str | bytes | None:
    key = command[1] if len(command) > 1 else None
    return key if isinstance(key, (str, bytes)) else None


class ScriptLane:
    """The lane on a standalone Redis: one pipelined connection."""

    cluster = False

    def __init__(self, address: Address, options: LinkOptions, spans: RoundTripSpans | None = None) -> None:
        self.node = NodeLane(address, options, spans=spans)

    async def call(
        self, packed: bytes, key: str | bytes | None, name: str, *, read_only: bool = False
    ) -> Any:
        """One command's reply; an error reply raises."""
        return await self.node.call(packed, name)

    async def call_many(
        self, commands: Sequence[tuple[bytes, str | bytes | None]], name: str, *, read_only: bool = False
    ) -> list[Any]:
        """Replies to commands sent in one write, in order; the first error reply raises."""
        replies = await self.node.call_many([packed for packed, _ in commands], name)
        return _raise_first_error(replies)

    async def call_together(
        self, packed: Sequence[bytes], key: str | bytes | None, name: str, *, extra_time: float = 0.0
    ) -> list[Any]:
        """Commands sent in one write on one connection (a script and its WAIT, which may
        block for ``extra_time`` seconds); each reply in its place, an error reply as its
        exception object."""
        return await self.node.call_many(packed, name, extra_time=extra_time)

    async def close(self) -> None:
        """Closes the connection."""
        await self.node.close()


def _raise_first_error(replies: list[Any]) -> list[Any]:
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


class _Topology:
    """Which node serves each slot: its primary and its replicas."""

    def __init__(self, ranges: Sequence[tuple[int, int, Address, tuple[Address, ...]]]) -> None:
        self.primary: list[Address | None] = [None] * 16384
        self.replicas: list[tuple[Address, ...]] = [()] * 16384
        self.primaries: set[Address] = set()
        self.nodes: set[Address] = set()
        for start, end, primary, replicas in ranges:
            for slot in range(start, end + 1):
                self.primary[slot] = primary
                self.replicas[slot] = replicas
            self.primaries.add(primary)
            self.nodes.add(primary)
            self.nodes.update(replicas)


def _parse_cluster_slots(reply: Any, queried: Address) -> _Topology:
    def address(node: Sequence[Any]) -> Address:
        host = node[0].decode() if isinstance(node[0], bytes) else str(node[0])
        # An empty host (or "?") means "the address you reached me on".
        return (host if host and host != "?" else queried[0]), int(node[1])

    ranges = [
        (int(entry[0]), int(entry[1]), address(entry[2]), tuple(address(node) for node in entry[3:]))
        for entry in reply
    ]
    return _Topology(ranges)


class ClusterLane:
    """The lane on a Redis Cluster: a pipelined connection per node, commands routed by slot."""

    cluster = True

    def __init__(
        self,
        seeds: Sequence[Address],
        options: LinkOptions,
        *,
        read_from_replicas: bool = False,
        spans: RoundTripSpans | None = None,
    ) -> None:
        self._seeds = list(seeds)
        self._options = options
        self._read_from_replicas = read_from_replicas
        self._spans = spans
        self._primaries: dict[Address, NodeLane] = {}
        self._replicas: dict[Address, NodeLane] = {}
        self._topology: _Topology | None = None
        self._refreshing: asyncio.Task[None] | None = None
        self._again = False
        self._last_refresh = 0.0
        self._later: asyncio.TimerHandle | None = None
        self._turn = itertools.count()
        self._redirections = 0
        self._closed = False

    # Routing.

    def _node(self, address: Address, *, replica: bool = False) -> NodeLane:
        nodes = self._replicas if replica else self._primaries
        node = nodes.get(address)
        if node is None:
            node = nodes[address] = NodeLane(
                address, self._options, select=False, readonly=replica, spans=self._spans
            )
        return node

    async def _route(self, key: str | bytes | None, read_only: bool) -> NodeLane:
        topology = self._topology or await self._first_topology()
        if key is None:
            return self._node(sorted(topology.primaries)[0])
        slot = key_slot(key.encode() if isinstance(key, str) else key)
        if read_only and self._read_from_replicas:
            replicas = topology.replicas[slot]
            if replicas:
                return self._node(replicas[next(self._turn) % len(replicas)], replica=True)
        primary = topology.primary[slot]
        if primary is None:
            self.refresh()
            raise rx.SlotNotCoveredError(f"slot {slot} is not covered by the cluster")
        return self._node(primary)

    async def call(
        self, packed: bytes, key: str | bytes | None, name: str, *, read_only: bool = False
    ) -> Any:
        """One command, sent to its key's node; redirections followed; an error reply raises."""
        node = await self._route(key, read_only)
        asking = False
        for attempt in itertools.count():
            try:
                return await node.call(packed, name, asking=asking)
            except (rx.MovedError, rx.AskError) as e:
                if attempt >= _REDIRECTS:
                    raise
                node, asking = self._redirected(e)
            except rx.ConnectionError as e:
                self._failed(node)
                if isinstance(e, NotSentError) and node.replica and attempt < _REDIRECTS:
                    node = await self._route(key, read_only=False)  # a replica out of reach: its primary
                    continue
                raise
        raise AssertionError("unreachable")

    async def call_together(
        self, packed: Sequence[bytes], key: str | bytes | None, name: str, *, extra_time: float = 0.0
    ) -> list[Any]:
        """Commands sent in one write on the connection of their key's primary (a script
        and its WAIT, which may block for ``extra_time`` seconds); redirections of the
        first followed; each reply in its place."""
        node = await self._route(key, read_only=False)
        asking = False
        for attempt in itertools.count():
            try:
                replies = await node.call_many(packed, name, asking=asking, extra_time=extra_time)
            except rx.ConnectionError:
                self._failed(node)
                raise
            first = replies[0]
            if not isinstance(first, (rx.MovedError, rx.AskError)) or attempt >= _REDIRECTS:
                return replies
            node, asking = self._redirected(first)
        raise AssertionError("unreachable")

    async def call_many(
        self, commands: Sequence[tuple[bytes, str | bytes | None]], name: str, *, read_only: bool = False
    ) -> list[Any]:
        """Commands grouped by node, each group in one write, all groups at once; the
        replies in the commands' order (a redirected one followed on its own); the first
        error reply raises."""
        groups: dict[NodeLane, list[int]] = {}
        for n, (_, key) in enumerate(commands):
            groups.setdefault(await self._route(key, read_only), []).append(n)
        replies: list[Any] = [None] * len(commands)

        async def group(node: NodeLane, members: list[int]) -> None:
            batch = [commands[n][0] for n in members]
            try:
                answers = await node.call_many(batch, name)
            except rx.ConnectionError as e:
                self._failed(node)
                if not (isinstance(e, NotSentError) and node.replica):
                    raise
                # A replica out of reach, as in call: its primary, which owns every slot
                # the replica copies.
                primary = await self._route(commands[members[0]][1], read_only=False)
                answers = await primary.call_many(batch, name)
            for n, answer in zip(members, answers, strict=True):
                replies[n] = answer

        await asyncio.gather(*(group(node, members) for node, members in groups.items()))
        redirected = [n for n, reply in enumerate(replies) if isinstance(reply, (rx.MovedError, rx.AskError))]
        if redirected:
            for n, answer in zip(
                redirected,
                await asyncio.gather(
                    *(self._follow(commands[n][0], replies[n], name) for n in redirected),
                    return_exceptions=True,
                ),
                strict=True,
            ):
                replies[n] = answer
        return _raise_first_error(replies)

    async def _follow(self, packed: bytes, redirection: Exception, name: str) -> Any:
        node, asking = self._redirected(redirection)
        return await node.call(packed, name, asking=asking)

    def _redirected(self, error: Exception) -> tuple[NodeLane, bool]:
        assert isinstance(error, (rx.MovedError, rx.AskError))
        target = (error.host, int(error.port))
        self._redirections += 1
        if not isinstance(error, rx.MovedError):  # ASK (MovedError subclasses AskError)
            return self._node(target), True
        # MOVED: the slot has a new owner for good; later calls go there at once.
        if self._topology is not None:
            self._topology.primary[error.slot_id] = target
            self._topology.replicas[error.slot_id] = ()
            self._topology.primaries.add(target)
        self.refresh()
        return self._node(target), False

    def _failed(self, node: NodeLane) -> None:
        # A node that failed may have been failed over: read the topology again.
        self.refresh()

    # Topology.

    async def _first_topology(self) -> _Topology:
        if self._refreshing is None or self._refreshing.done():
            self._start_refresh()
        assert self._refreshing is not None
        with contextlib.suppress(Exception):
            await asyncio.shield(self._refreshing)
        if self._topology is None:
            raise NotSentError("no node of the cluster answered CLUSTER SLOTS")
        return self._topology

    def refresh(self) -> None:
        """Re-reads the topology in the background (at most every 0.1 s, one at a time)."""
        if self._closed:
            return
        if self._refreshing is not None and not self._refreshing.done():
            self._again = True
            return
        wait = self._last_refresh + _REFRESH_INTERVAL - time.monotonic()
        if wait > 0:
            if self._later is None:
                self._later = asyncio.get_running_loop().call_later(wait, self._start_refresh)
            return
        self._start_refresh()

    def _start_refresh(self) -> None:
        self._later = None
        if self._closed or (self._refreshing is not None and not self._refreshing.done()):
            return
        self._refreshing = asyncio.get_running_loop().create_task(self._refresh(), name="redis-lane-topology")

    async def _refresh(self) -> None:
        self._last_refresh = time.monotonic()
        self._again = False
        known = sorted(self._topology.primaries) if self._topology else []
        candidates = [*known, *(s for s in self._seeds if s not in known)]
        for address in candidates:
            node = self._node(address)
            try:
                reply = await node.call(_CLUSTER_SLOTS, "CLUSTER SLOTS")
                topology = _parse_cluster_slots(reply, address)
            except (rx.RedisError, ValueError, IndexError, TypeError) as e:
                log.debug("topology not read from %s:%s: %s", *address, e)
                continue
            if not topology.primaries:
                continue
            self._topology = topology
            await self._drop_unknown(topology)
            break
        else:
            log.warning("no node of the Redis Cluster answered CLUSTER SLOTS")
        if self._again:
            self.refresh()

    async def _drop_unknown(self, topology: _Topology) -> None:
        # Only nodes that left the cluster: a demoted primary's connection is simply no
        # longer chosen, so replies in flight on it still arrive.
        keep = topology.nodes | set(self._seeds)
        gone = [
            nodes.pop(address)
            for nodes in (self._primaries, self._replicas)
            for address in list(nodes)
            if address not in keep
        ]
        for node in gone:
            await node.close()

    async def close(self) -> None:
        """Closes every connection and stops the topology reads."""
        self._closed = True
        if self._later is not None:
            self._later.cancel()
        if self._refreshing is not None and not self._refreshing.done():
            self._refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._refreshing
        for node in [*self._primaries.values(), *self._replicas.values()]:
            await node.close()


Lane = ScriptLane | ClusterLane
"""The lane for the topology: what ScriptRunner sends every command through."""
