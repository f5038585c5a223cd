"""How a script call reaches Redis: which failures are retried, and durable writes (WAIT).

Retries. A failure is retried, with backoff, until SESSION_REDIS_RETRY_TIMEOUT or the
call's deadline runs out, when the script certainly did not run:
- CLUSTERDOWN, TRYAGAIN (keys of one slot split by a migration), LOADING, READONLY
  (a write reached a demoted primary), MASTERDOWN, MOVED/ASK seen by the durable path
  (the cluster client follows them itself on every other path):
  Redis refused the command before executing it, so running it again is safe for
  every script.
A connection that could not even be opened (refused, unreachable) is the same case.
So is a write to a connection already closed under redis-py (a concurrent topology
refresh tore it down, or the server went away): asyncio's streams fail inside redis-py
with an AttributeError ("'NoneType' object has no attribute 'writelines'"), uvloop's
with a RuntimeError ("unable to perform operation on <TCPTransport closed=True>; the
handler is closed"). The writer was already gone, so nothing was sent.
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
redis-py's own retries are switched off (see connect.py) so that this policy is the
only one.

Durability. With SESSION_REDIS_WAIT_REPLICAS = N > 0 every state change a caller relies
on (create, rotate, update, revoke, revoke_user; not the idle-expiry slide of Get) is followed,
on the same connection, by WAIT N: the call answers only once N replicas hold the
write, so a failover right after an acknowledged Create/Refresh/Revoke/Update cannot
lose it or resurrect a revoked session. If fewer replicas acknowledge in time the
call fails UNAVAILABLE; the write may still be on the primary, which is why every
write is safe for the caller to retry (see above: Refresh within its grace window,
Revoke and Update idempotent; a retried Create makes a second session).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from redis import exceptions as rx

# Private redis-py API, used only by the durable (WAIT) path on a cluster: PipelineCommand,
# nodes_manager.move_slot / move_node_to_end_of_cached_nodes and _initialize. redis-py
# offers no public way to send EVALSHA and WAIT down one connection of one cluster node,
# so setup.py pins redis to the 8.1 series these were read from and tested against.
from redis.asyncio.cluster import PipelineCommand
from session_wire.tasks import raise_if_cancel_requested

from session_service.deadline import remaining
from session_service.errors import StoreFull, StoreUnavailable
from session_service.store.lane import ScriptLane
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


def _never_connected(error: Exception) -> bool:
    # redis-py reports a failed connect ("Error 111 connecting to host:port") as the same
    # ConnectionError as a connection lost mid-call; only the message tells them apart.
    # A command that never had a connection cannot have run, so it may be retried.
    return isinstance(error, rx.ConnectionError) and " connecting to " in str(error)


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
    """Runs scripts against a standalone or cluster client under an :class:`ExecutionPolicy`."""

    def __init__(self, client: Any, policy: ExecutionPolicy) -> None:
        self._client = client
        self._policy = policy
        self._cluster = hasattr(client, "get_node_from_key")
        self._lane: ScriptLane | None = None

    @property
    def cluster(self) -> bool:
        """Whether the client is a Redis Cluster client (keys of one call share a slot)."""
        return self._cluster

    def use_lane(self) -> None:
        """Runs scripts on a standalone Redis through the direct lane (store/lane.py)."""
        if not self._cluster and self._lane is None:
            self._lane = ScriptLane(self._client)

    async def close(self) -> None:
        """Closes the lane's connections (the client's own pool is closed with the client)."""
        if self._lane is not None:
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

    async def read(self, *command: str | int | bytes) -> Any:
        """A read-only command (safe to repeat), retried like a script; through the lane
        when there is one. The cluster client routes it by its key."""
        if self._lane is not None:
            lane, packed = self._lane, pack_command(*command)
            return await self._retried(lambda: lane.call(packed), retry_after_loss=True)
        return await self._retried(lambda: self._client.execute_command(*command), retry_after_loss=True)

    async def read_many(self, commands: Sequence[Sequence[str | int | bytes]]) -> list[Any]:
        """Read-only commands in one round trip per node (a non-transactional pipeline, or
        one write on the lane), retried together like :meth:`read`; replies in order."""
        if self._lane is not None:
            lane, packed = self._lane, [pack_command(*command) for command in commands]
            return await self._retried(lambda: lane.call_many(packed), retry_after_loss=True)

        async def pipelined() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            replies: list[Any] = await pipe.execute()
            return replies

        return await self._retried(pipelined, retry_after_loss=True)

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
            except (AttributeError, RuntimeError) as e:
                if not _torn_down_connection(e):
                    raise
                error = rx.ConnectionError(f"connection closed before sending ({type(e).__name__})")
            except _MAYBE_EXECUTED as e:
                if not retry_after_loss and not _never_connected(e):
                    raise store_unavailable(e) from e
                error = e
            except rx.ResponseError as e:
                if str(e).startswith(_UNAVAILABLE_REPLIES):
                    raise store_unavailable(e) from e
                raise
            except rx.RedisClusterException as e:  # no node known for the slot (topology unknown)
                error = e
            # A cancellation the client turned into this error must not be retried away.
            raise_if_cancel_requested()
            if time.monotonic() + delay > budget_end:
                raise store_unavailable(error) from error
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF)

    async def once(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """One attempt, not retried and not durable: for callers with a fallback of their own."""
        return await self._once(script, keys, args, durable=False)

    async def _once(self, script: Script, keys: Sequence[str], args: Sequence[Any], durable: bool) -> Any:
        if not durable or self._policy.wait_replicas == 0:
            if self._lane is not None:
                try:
                    return await self._lane.call(script.packed(keys, args))
                except rx.NoScriptError:
                    return await script.evaluate(self._client, keys, args)
            return await script(self._client, keys, args)
        if self._cluster:
            return await self._durable_cluster(script, keys, args)
        return await self._durable_standalone(script, keys, args)

    def _wait(self) -> tuple[str, int, int]:
        return ("WAIT", self._policy.wait_replicas, self._policy.wait_timeout_ms)

    def _check_acks(self, acks: Any) -> None:
        if isinstance(acks, Exception):
            raise acks
        if int(acks) < self._policy.wait_replicas:
            raise StoreUnavailable(
                f"write acknowledged by {acks} of {self._policy.wait_replicas} required replicas"
            )

    async def _durable_standalone(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        # A non-transactional pipeline sends both commands on one connection, which is
        # what WAIT needs: it waits for the writes of its own connection.
        for command, body in (("EVALSHA", script.sha), ("EVAL", script.source)):
            pipe = self._client.pipeline(transaction=False)
            pipe.execute_command(command, body, len(keys), *keys, *args)
            pipe.execute_command(*self._wait())
            reply, acks = await pipe.execute(raise_on_error=False)
            if isinstance(reply, rx.NoScriptError):
                continue
            if isinstance(reply, Exception):
                raise reply
            self._check_acks(acks)
            return reply
        raise StoreUnavailable("script cache lost twice in a row")

    async def _durable_cluster(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        # The cluster client routes a keyless WAIT to an arbitrary node, so both commands
        # go down one connection of the node that owns the keys' slot.
        node = self._client.get_node_from_key(keys[0])
        for command, body in (("EVALSHA", script.sha), ("EVAL", script.source)):
            commands = [
                PipelineCommand(0, command, body, len(keys), *keys, *args),
                PipelineCommand(1, *self._wait()),
            ]
            try:
                await node.execute_pipeline(commands)
            except _MAYBE_EXECUTED:
                await self._forget_node(node)
                raise
            except (AttributeError, RuntimeError, OSError) as e:
                if isinstance(e, RuntimeError) and not _torn_down_connection(e):
                    raise
                # redis-py closes a cluster client's connections when it re-reads the
                # topology (e.g. on CLUSTERDOWN), also under a call in flight: the reply is
                # lost, exactly as on a dropped connection.
                await self._forget_node(node)
                raise rx.ConnectionError(f"connection closed during the call ({type(e).__name__})") from e
            reply, acks = commands[0].result, commands[1].result
            if isinstance(reply, rx.NoScriptError):
                continue
            if isinstance(reply, rx.MovedError):
                # The slot has a new owner: patch the client's slot map the way its own
                # redirection handling does, then the retry goes to the new owner.
                await self._client.nodes_manager.move_slot(reply)
            if isinstance(reply, Exception):
                raise reply
            self._check_acks(acks)
            return reply
        raise StoreUnavailable("script cache lost twice in a row")

    async def _forget_node(self, node: Any) -> None:
        # The node failed: do what the cluster client does for its own calls, i.e. drop
        # the node's idle connections and re-read the topology before the next command.
        with contextlib.suppress(rx.RedisError, OSError):
            await node.disconnect_free_connections()
        self._client.nodes_manager.move_node_to_end_of_cached_nodes(node.name)
        self._client._initialize = True
