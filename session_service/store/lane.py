"""A direct lane for scripts on a standalone Redis: EVALSHA without redis-py's per-command layers.

Every RPC is one script call, so what a call costs on top of the round trip matters. On
the standard path redis-py's asyncio client takes a connection from its pool under a
lock, asks the socket whether stray data is waiting, records observability counters,
goes through its retry wrapper, packs each argument, looks up a response callback, and
gives the connection back under the lock again. Together that costs more CPU than
Redis spends running the script.

This lane keeps its own idle list of the same redis-py connection objects (same class,
same settings: AUTH, TLS, timeouts), sends one pre-packed EVALSHA and reads its reply.
A connection goes back to the idle list only after a complete command and reply, so it
never holds stray data; after any other failure (time-out, reset, cancellation) it is
disconnected and dropped, as redis-py itself does. Error replies are raised as the
same redis-py exceptions (NoScriptError, OutOfMemoryError, ...), so callers handle both
paths alike.

Used only against a standalone Redis with tracing off: the cluster client routes by slot
and follows MOVED/ASK, and the Redis spans come from instrumenting redis-py's own path.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from redis import exceptions as rx


class ScriptLane:
    """Runs EVALSHA / EVALSHA_RO on a standalone Redis over its own idle connections."""

    def __init__(self, client: Any) -> None:
        pool = client.connection_pool
        self._connection_class = pool.connection_class
        self._connection_kwargs = dict(pool.connection_kwargs)
        self._timeout: float | None = self._connection_kwargs.get("socket_timeout")
        self._idle: list[Any] = []
        self._open: set[Any] = set()
        self._closed = False

    async def call(self, packed: bytes) -> Any:
        """Sends one packed command and returns its reply; error replies raise redis-py's exceptions."""
        if self._closed:
            raise rx.ConnectionError("the script lane is closed")
        connection = (await self._idle_connection() if self._idle else None) or self._new_connection()
        reusable = False
        try:
            if not connection.is_connected:
                await connection.connect()
            # One time-out around the write and the read. redis-py's own send wraps each
            # write in wait_for (a new task per command) and its read in another time-out.
            async with asyncio.timeout(self._timeout):
                writer = connection._writer
                writer.write(packed)
                await writer.drain()
                reply = await connection.read_response(timeout=math.inf)
            reusable = True
            return reply
        except rx.ResponseError:
            # An error reply is a complete reply: the connection is in step.
            reusable = True
            raise
        except TimeoutError:
            raise rx.TimeoutError("Timeout talking to Redis") from None
        except OSError as e:
            raise rx.ConnectionError(f"Error while writing to Redis: {e}") from e
        finally:
            if reusable and not self._closed:
                self._idle.append(connection)
            else:
                self._open.discard(connection)
                await connection.disconnect(nowait=True)

    async def _idle_connection(self) -> Any:
        # One that Redis closed while it was idle (a restart, its idle timeout) has seen
        # EOF already: the event loop reads every socket as data arrives. Sending on it
        # would fail a call that could not have run, so it is dropped here instead.
        while self._idle:
            connection = self._idle.pop()
            reader = getattr(connection, "_reader", None)
            if reader is not None and not reader.at_eof():
                return connection
            self._open.discard(connection)
            await connection.disconnect(nowait=True)
        return None

    def _new_connection(self) -> Any:
        connection = self._connection_class(**self._connection_kwargs)
        self._open.add(connection)
        return connection

    async def close(self) -> None:
        """Disconnects every connection; calls still in flight drop theirs when they end."""
        self._closed = True
        self._idle.clear()
        for connection in list(self._open):
            await connection.disconnect(nowait=True)
        self._open.clear()
