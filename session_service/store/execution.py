"""How a script call reaches Redis: which failures are retried, and durable writes (WAIT).

Retries. A failure is retried, with backoff, until SESSION_REDIS_RETRY_TIMEOUT or the
call's deadline runs out, when the script certainly did not run:
- CLUSTERDOWN, TRYAGAIN (keys of one slot split by a migration), LOADING, READONLY
  (a write reached a demoted primary), MASTERDOWN, MOVED/ASK (more redirections than
  the lane follows at once), a slot no node covers:
  Redis refused the command before executing it, so running it again is safe for
  every script.
A command that never left (store/lane.py's NotSentError: the connect failed or was
refused, or the connection closed before the write) is the same case.
Out of memory (maxmemory with noeviction) is not retried: it is StoreFull
(RESOURCE_EXHAUSTED, STORE_FULL), a state the caller can act on, and nothing was written.
Scripts that only delete (the revoke scripts) carry the allow-oom flag, so logging out
works even then.
A lost connection or a timeout is different: the script may have run and only the
reply was lost. Those are retried only for scripts whose repetition is harmless:
- touch, peek, list: reads (touch and list only refresh expiry or prune the index);
- revoke, revoke_user: idempotent (a repeat ends nothing more; the count it reports
  may then be lower);
- update: the same set/remove applied twice leaves the same data (a compare-and-set
  repeat reports VERSION_MISMATCH rather than corrupting anything);
- rotate, only while the refresh grace window is open: a repeat of the same token is
  then a grace duplicate that returns the same successor. With no grace window a
  repeat would look like token theft and end the session, so it is not retried;
- create is never retried after a lost connection: a repeat would make a second
  session (counting against the user's limit) that no caller holds.
- dpop_replay is never retried after a lost connection: a repeat would find the proof
  id the first run recorded and refuse the proof as a replay; the client sends a new one.
- ssf_lease_acquire, ssf_lease_renew, ssf_lease_release, ssf_position_advance (the SSF
  transmitter's lease and position): a repeat by the same token takes, extends, releases
  or writes the same thing again.
Every script and hot read goes through the lane (store/lane.py), on a standalone Redis
and on a cluster alike; the lane follows MOVED and ASK itself a few times at once (not
executed, so safe for every script) before raising them here. redis-py's client serves
only the paths off the hot path (stream reads, script loading, pings), through
translate_errors, without retries of its own (see connect.py).

Durability. With SESSION_REDIS_WAIT_REPLICAS = N > 0 every state change a caller relies
on (create, rotate, update, revoke, revoke_user; not the idle-expiry slide of Get) is followed,
in the same write on the same connection (the lane's, to the node that owns the keys),
by WAIT N: the call answers only once N replicas hold the write, so a failover right
after an acknowledged Create/Refresh/Revoke/Update cannot lose it or resurrect a
revoked session. If fewer replicas acknowledge in time the
call fails UNAVAILABLE; the write may still be on the primary, which is why every
write is safe for the caller to retry (see above: Refresh within its grace window,
Revoke and Update idempotent; a retried Create makes a second session).
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from redis import exceptions as rx
from session_wire.tasks import raise_if_cancel_requested

from session_service.deadline import remaining
from session_service.errors import StoreFull, StoreUnavailable
from session_service.store.lane import Lane, NotSentError
from session_service.store.scripts import Script, pack_command

T = TypeVar("T")

_NOT_EXECUTED: tuple[type[Exception], ...] = (
    rx.ClusterDownError,
    rx.TryAgainError,
    rx.BusyLoadingError,
    rx.ReadOnlyError,
    rx.MasterDownError,
    rx.MovedError,
    rx.AskError,
    rx.SlotNotCoveredError,
)
_MAYBE_EXECUTED: tuple[type[Exception], ...] = (rx.ConnectionError, rx.TimeoutError)
# RedisClusterException: the cluster client found no node or slot map to use at all (it
# raises it from its own topology refresh, outside its retries); nothing was sent.
_UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    *_NOT_EXECUTED,
    *_MAYBE_EXECUTED,
    rx.ClusterError,
    rx.RedisClusterException,
)
# Replies meaning "this node cannot serve right now" rather than "this request is wrong".
# The runner retries the ones in _NOT_EXECUTED first; the rest (e.g. out of memory) are
# not worth retrying.
_UNAVAILABLE_REPLIES = (
    "OOM",
    "BUSY",
    "NOREPLICAS",
    "READONLY",
    "MASTERDOWN",
    "LOADING",
    "CLUSTERDOWN",
    "TRYAGAIN",
)
_FIRST_BACKOFF = 0.025
_MAX_BACKOFF = 0.4


def store_unavailable(error: Exception) -> StoreUnavailable:
    """The StoreUnavailable reported for a Redis failure (a reply names only its error code)."""
    if isinstance(error, rx.ResponseError):
        return StoreUnavailable(f"session store is unavailable ({str(error).split(' ')[0]})")
    return StoreUnavailable(f"session store is unavailable ({type(error).__name__}: {error})")


_CLOSED_TRANSPORT = ("unable to perform operation on", "handler is closed")
"""uvloop's RuntimeError for a write to a transport that is already closed."""


def _torn_down_connection(error: Exception) -> bool:
    # A connection closed under redis-py (by a concurrent topology refresh, or by the peer
    # going away) before the command was written; nothing was sent, so a retry is safe.
    # asyncio's streams then fail with an AttributeError inside redis-py ("'NoneType' object
    # has no attribute 'writelines'"), uvloop's with a RuntimeError from the transport.
    # Either is recognised only when raised under a redis-py frame, never from our code.
    if isinstance(error, AttributeError):
        frames = _frames(error)
        return bool(frames) and _in_redis(frames[-1])
    if isinstance(error, RuntimeError) and any(part in str(error) for part in _CLOSED_TRANSPORT):
        return any(_in_redis(filename) for filename in _frames(error))
    return False


def _frames(error: Exception) -> list[str]:
    names = []
    tb = error.__traceback__
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    return names


def _in_redis(filename: str) -> bool:
    return f"{os.sep}redis{os.sep}" in filename


async def translate_errors(call: Awaitable[T]) -> T:
    """Awaits a plain Redis call (no retries), turning "cannot serve now" into StoreUnavailable."""
    try:
        return await call
    except rx.OutOfMemoryError as e:
        raise StoreFull() from e
    except (AttributeError, RuntimeError) as e:
        if _torn_down_connection(e):
            raise StoreUnavailable("session store connection was closed during the call") from e
        raise
    except _UNAVAILABLE_ERRORS as e:
        raise store_unavailable(e) from e
    except rx.ResponseError as e:
        if str(e).startswith(_UNAVAILABLE_REPLIES):
            raise store_unavailable(e) from e
        raise


@dataclass(frozen=True)
class ExecutionPolicy:
    """Retry budget and durability, from the settings."""

    retry_timeout: float = 3.0
    """Seconds to keep retrying failures that are safe to retry."""
    wait_replicas: int = 0
    """Replicas that must acknowledge a write before it is answered; 0 disables WAIT."""
    wait_timeout_ms: int = 500
    """How long WAIT may block."""


class ScriptRunner:
    """Runs scripts and reads through the lane (store/lane.py) under an :class:`ExecutionPolicy`."""

    def __init__(self, lane: Lane, policy: ExecutionPolicy) -> None:
        self._lane = lane
        self._policy = policy

    @property
    def cluster(self) -> bool:
        """Whether Redis is a cluster (keys of one call share a slot)."""
        return self._lane.cluster

    @property
    def lane(self) -> Lane:
        """The lane every command goes through."""
        return self._lane

    async def close(self) -> None:
        """Closes the lane's connections."""
        await self._lane.close()

    async def run(
        self,
        script: Script,
        keys: Sequence[str],
        args: Sequence[Any],
        *,
        retry_after_loss: bool,
        durable: bool = False,
    ) -> Any:
        """Runs the script, retrying what is safe to retry; StoreUnavailable when it cannot.

        ``durable`` writes wait for replica acknowledgements when the policy asks for it.
        """
        return await self._retried(lambda: self._once(script, keys, args, durable), retry_after_loss)

    async def read(self, *command: str | int | bytes, replica: bool = False) -> Any:
        """A read-only command (safe to repeat), retried like a script, sent to its key's
        node; ``replica``: to a replica when SESSION_REDIS_READ_FROM_REPLICAS is on."""
        lane, packed, key = self._lane, pack_command(*command), _key(command)
        name = str(command[0])
        return await self._retried(
            lambda: lane.call(packed, key, name, read_only=replica), retry_after_loss=True
        )

    async def read_once(self, *command: str | int | bytes) -> Any:
        """A read-only command sent once to its key's node (not retried), its failure a
        StoreUnavailable: for background loops that try again on their own schedule."""
        packed, key = pack_command(*command), _key(command)
        return await translate_errors(self._lane.call(packed, key, str(command[0])))

    async def read_many(
        self, commands: Sequence[Sequence[str | int | bytes]], *, replica: bool = False
    ) -> list[Any]:
        """Read-only commands in one round trip per node (one write per node on the lane),
        retried together like :meth:`read`; replies in order."""
        lane = self._lane
        packed = [(pack_command(*command), _key(command)) for command in commands]
        name = str(commands[0][0]) if commands else ""
        return await self._retried(
            lambda: lane.call_many(packed, name, read_only=replica), retry_after_loss=True
        )

    async def _retried(self, attempt: Callable[[], Awaitable[T]], retry_after_loss: bool) -> T:
        budget_end = time.monotonic() + remaining(self._policy.retry_timeout)
        delay = _FIRST_BACKOFF
        while True:
            try:
                return await attempt()
            except _NOT_EXECUTED as e:
                error: Exception = e
            except rx.OutOfMemoryError as e:
                raise StoreFull() from e
            except _MAYBE_EXECUTED as e:
                if not retry_after_loss and not isinstance(e, NotSentError):
                    raise store_unavailable(e) from e
                error = e
            except rx.ResponseError as e:
                if str(e).startswith(_UNAVAILABLE_REPLIES):
                    raise store_unavailable(e) from e
                raise
            # A cancellation turned into this error must not be retried away.
            raise_if_cancel_requested()
            if time.monotonic() + delay > budget_end:
                raise store_unavailable(error) from error
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF)

    async def once(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """One attempt, not retried and not durable: for callers with a fallback of their own."""
        return await self._once(script, keys, args, durable=False)

    async def _once(self, script: Script, keys: Sequence[str], args: Sequence[Any], durable: bool) -> Any:
        key = keys[0] if keys else None
        if not durable or self._policy.wait_replicas == 0:
            try:
                return await self._lane.call(
                    script.packed(keys, args), key, script.span_name, read_only=script.read_only
                )
            except rx.NoScriptError:
                # A restarted or failed-over node has an empty script cache: EVAL sends the
                # source once, to the node that owns the keys, and caches it there.
                return await self._lane.call(
                    script.packed_source(keys, args), key, script.source_span_name, read_only=script.read_only
                )
        # WAIT waits for the writes of its own connection: the script and WAIT leave in one
        # write on the connection of the node that owns the keys.
        for packed, name in (
            (script.packed(keys, args), script.span_name),
            (script.packed_source(keys, args), script.source_span_name),
        ):
            reply, acks = await self._lane.call_together(
                [packed, self._wait], key, name, extra_time=self._policy.wait_timeout_ms / 1000
            )
            if isinstance(reply, rx.NoScriptError):
                continue
            if isinstance(reply, Exception):
                raise reply
            if isinstance(acks, Exception):
                raise acks
            if int(acks) < self._policy.wait_replicas:
                raise StoreUnavailable(
                    f"write acknowledged by {acks} of {self._policy.wait_replicas} required replicas"
                )
            return reply
        raise StoreUnavailable("script cache lost twice in a row")

    @functools.cached_property
    def _wait(self) -> bytes:
        return pack_command("WAIT", self._policy.wait_replicas, self._policy.wait_timeout_ms)


def _key(command: Sequence[str | int | bytes]) -> str | bytes | None:
    key = command[1] if len(command) > 1 else None
    return key if isinstance(key, (str, bytes)) else None
