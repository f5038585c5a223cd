"""A direct lane for scripts on a standalone Redis: pipelined EVALSHA on one connection.

Every RPC is one script call, so what a call costs on top of the round trip matters. On
the standard path redis-py's asyncio client takes a connection from its pool under a
lock, asks the socket whether stray data is waiting, records observability counters,
wraps each write in ``wait_for`` (a new task), each read in a time-out, and gives the
connection back under the lock again; every call also has its own connection, so every
call is a write and a read system call of its own. Together that costs more CPU than
Redis spends running the script.

This lane sends every call on one connection, in order, and matches replies to calls
in the same order, as Redis answers them (RESP has no other way; this is how pipelining
works). The commands of the calls made in one turn of the event loop leave in one
write, and one read takes the replies of as many calls as have arrived.

- The connection is a redis-py connection (same class, same settings: AUTH, TLS,
  SELECT, time-outs), connected and greeted by redis-py; the lane then only writes
  pre-packed commands to it and parses replies with hiredis, as redis-py does.
- Error replies become the same redis-py exceptions (NoScriptError, OutOfMemoryError,
  ...), so callers handle both paths alike.
- A cancelled call keeps its place: its reply is read and dropped when it comes, so
  the replies after it still reach their own calls.
- When a reply is overdue (the connection's socket time-out), or the connection fails
  or closes, every call waiting on it fails (TimeoutError or ConnectionError: "may have
  run") and the connection is dropped; the next call opens a new one. A failure to
  connect is redis-py's own ConnectionError ("... connecting to ..."): nothing ran.

Used only against a standalone Redis with tracing off: the cluster client routes by slot
and follows MOVED/ASK, and the Redis spans come from instrumenting redis-py's own path.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import hiredis
from redis import exceptions as rx
from redis._parsers.base import BaseParser  # redis pinned to 8.1.x (pyproject)

log = logging.getLogger(__name__)

_READ_BYTES = 65536


class _Link:
    """One connection and the calls waiting on it, oldest first."""

    def __init__(self, connection: Any, timeout: float | None) -> None:
        self.connection = connection
        self.writer = connection._writer
        self.reader = connection._reader
        self.timeout = timeout
        self.waiting: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self.outgoing: list[bytes] = []
        self.error: Exception | None = None
        self.parser = hiredis.Reader(
            protocolError=rx.InvalidResponse, replyError=BaseParser.parse_error, notEnoughData=False
        )
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.reading = loop.create_task(self._read(), name="redis-lane-reader")
        self.watchdog: asyncio.TimerHandle | None = None

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        if self.error is not None:
            raise self.error
        future: asyncio.Future[Any] = self.loop.create_future()
        deadline = self.loop.time() + self.timeout if self.timeout else 0.0
        self.waiting.append((future, deadline))
        if not self.outgoing:
            self.loop.call_soon(self._flush)
        self.outgoing.append(packed)
        if self.timeout and self.watchdog is None:
            self.watchdog = self.loop.call_later(self.timeout / 4, self._watch)
        return future

    def _flush(self) -> None:
        if self.error is not None or not self.outgoing:
            return
        chunks, self.outgoing = self.outgoing, []
        try:
            self.writer.writelines(chunks)
        except Exception as e:  # a transport closed under us
            self.fail(rx.ConnectionError(f"Error while writing to Redis: {e}"))

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
                    if future.done():  # its caller was cancelled: dropped, the order kept
                        continue
                    if isinstance(reply, rx.ResponseError):
                        future.set_exception(reply)
                    else:
                        future.set_result(reply)
        except asyncio.CancelledError:
            self.fail(rx.ConnectionError("the script lane is closed"))
            raise
        except (rx.ConnectionError, rx.TimeoutError) as e:
            self.fail(e)
        except rx.RedisError as e:
            # A protocol error (bytes hiredis cannot parse, a reply no call waits for): the
            # connection is out of step, which callers handle as a lost connection (retried
            # where safe, else UNAVAILABLE), never as an error of their own request.
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
        """Fails every waiting call and closes the connection (it is out of step now)."""
        if self.error is None:
            self.error = error
        while self.waiting:
            future, _ = self.waiting.popleft()
            if not future.done():
                # Each call its own exception object: one raised in many tasks at once
                # would collect all their tracebacks.
                future.set_exception(_fresh(error))
        self.outgoing = []
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None
        with contextlib.suppress(Exception):
            self.writer.close()
        if not self.reading.done() and asyncio.current_task() is not self.reading:
            self.reading.cancel()


def _fresh(error: Exception) -> Exception:
    try:
        return type(error)(*error.args)
    except Exception:
        return error


class ScriptLane:
    """Runs pre-packed commands on a standalone Redis, pipelined on one connection."""

    def __init__(self, client: Any) -> None:
        pool = client.connection_pool
        self._connection_class = pool.connection_class
        self._connection_kwargs = dict(pool.connection_kwargs)
        self._timeout: float | None = self._connection_kwargs.get("socket_timeout")
        self._link: _Link | None = None
        self._connecting: asyncio.Future[_Link] | None = None
        self._closed = False

    async def call(self, packed: bytes) -> Any:
        """Sends one packed command and returns its reply; error replies raise redis-py's exceptions."""
        link = self._link
        if link is None or link.error is not None:
            link = await self._connect()
        future = link.send(packed)
        try:
            return await future
        except asyncio.CancelledError:
            future.cancel()  # its reply, when it comes, is dropped
            raise

    async def call_many(self, packed: Sequence[bytes]) -> list[Any]:
        """Sends the commands together (one write) and returns their replies in order; the
        first error reply is raised once all have arrived."""
        link = self._link
        if link is None or link.error is not None:
            link = await self._connect()
        futures = [link.send(command) for command in packed]
        try:
            replies = await asyncio.gather(*futures, return_exceptions=True)
        except asyncio.CancelledError:
            for future in futures:
                future.cancel()
            raise
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply
        return replies

    async def _connect(self) -> _Link:
        if self._closed:
            raise rx.ConnectionError("the script lane is closed")
        if self._connecting is None:
            # One connect for all the calls that find no connection at the same time.
            self._connecting = asyncio.ensure_future(self._open())
            self._connecting.add_done_callback(self._connected)
        return await asyncio.shield(self._connecting)

    async def _open(self) -> _Link:
        connection = self._connection_class(**self._connection_kwargs)
        await connection.connect()
        if self._closed:
            await connection.disconnect(nowait=True)
            raise rx.ConnectionError("the script lane is closed")
        link = _Link(connection, self._timeout)
        self._link = link
        return link

    def _connected(self, done: asyncio.Future[_Link]) -> None:
        self._connecting = None
        if not done.cancelled():
            done.exception()  # retrieved here; the waiting calls raise it

    async def close(self) -> None:
        """Fails the calls still waiting and closes the connection."""
        self._closed = True
        link, self._link = self._link, None
        if link is not None:
            link.fail(rx.ConnectionError("the script lane is closed"))
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait({link.reading}, timeout=1.0)
            await link.connection.disconnect(nowait=True)
