"""The lane (store/lane.py) against a real redis-server: pipelined replies never go to the
wrong call, connections that failed or closed are not used again, and the lane greets the
server itself (AUTH, SELECT) and maps error replies to redis-py's exception classes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from redis import exceptions as rx
from redis.asyncio import Redis

from session_service.store.embedded import RedisServerProcess
from session_service.store.lane import LinkOptions, NotSentError, ScriptLane, reply_error
from session_service.store.scripts import Script, pack_command
from tests.conftest import free_port

# Spins for ARGV[1] ms of Redis time, then returns ARGV[2]: a call that is still running
# when its caller gives up on it.
_SLOW = """
local t = redis.call('TIME')
local stop = t[1] * 1000000 + t[2] + tonumber(ARGV[1]) * 1000
repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= stop
return ARGV[2]
"""


def _lane(client: Redis) -> ScriptLane:
    """A lane to the client's server, with the client's reply time-out."""
    kwargs = client.connection_pool.connection_kwargs
    return ScriptLane((kwargs["host"], kwargs["port"]), LinkOptions(timeout=kwargs["socket_timeout"]))


@pytest.fixture
def own_redis() -> Iterator[RedisServerProcess]:
    server = RedisServerProcess("redis-server", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def client(own_redis: RedisServerProcess) -> AsyncIterator[Redis]:
    redis = Redis.from_url(own_redis.url, socket_timeout=2)
    yield redis
    await redis.aclose()


async def test_a_cancelled_call_never_hands_its_reply_to_the_next_one(client: Redis) -> None:
    script = Script("inline", _SLOW)
    await client.script_load(script.source)
    lane = _lane(client)
    try:
        slow = asyncio.create_task(lane.call(script.packed([], [150, "first"]), None, "test"))
        await asyncio.sleep(0.05)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        # The first reply arrives on the abandoned connection, never on this call's.
        for n in range(5):
            assert await lane.call(script.packed([], [0, f"next-{n}"]), None, "test") == f"next-{n}".encode()
    finally:
        await lane.close()


async def test_an_error_reply_leaves_the_connection_usable(client: Redis) -> None:
    script = Script("inline", "return ARGV[1]")
    lane = _lane(client)
    try:
        with pytest.raises(rx.NoScriptError):
            await lane.call(script.packed([], ["x"]), None, "test")
        link = lane.node._link
        await client.script_load(script.source)
        assert await lane.call(script.packed([], ["y"]), None, "test") == b"y"
        assert lane.node._link is link  # the same connection served both
    finally:
        await lane.close()


async def test_connections_redis_closed_while_idle_are_not_used_again(client: Redis) -> None:
    script = Script("inline", "return redis.call('INCR', KEYS[1])")
    await client.script_load(script.source)
    lane = _lane(client)
    try:
        assert await lane.call(script.packed(["counter"], []), None, "test") == 1
        # Redis drops clients idle for a second (its `timeout` setting), as after a restart.
        await client.config_set("timeout", 1)
        before = lane.node._link
        deadline = time.monotonic() + 10
        while True:
            clients = await client.client_list()
            if len(clients) == 1:  # only the inspecting client is left
                break
            assert time.monotonic() < deadline, "Redis did not close the idle connection"
            await client.ping()
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.05)  # the event loop has seen the EOF
        # Not idempotent: had it been sent on the dead connection, the call would fail.
        assert await lane.call(script.packed(["counter"], []), None, "test") == 2
        assert lane.node._link is not before  # the dead one was replaced, not kept
    finally:
        await client.config_set("timeout", 0)
        await lane.close()


async def test_a_reply_that_takes_too_long_times_out_and_the_next_call_is_not_confused(
    own_redis: RedisServerProcess,
) -> None:
    client = Redis.from_url(own_redis.url, socket_timeout=0.1)
    script = Script("inline", source=_SLOW)
    await client.script_load(script.source)
    lane = _lane(client)
    try:
        with pytest.raises(rx.TimeoutError):
            await lane.call(script.packed([], [300, "late"]), None, "test")
        assert lane.node._link is not None and lane.node._link.error is not None  # dropped
        await asyncio.sleep(0.3)  # Redis is done with the slow script
        assert await lane.call(script.packed([], [0, "mine"]), None, "test") == b"mine"
    finally:
        await lane.close()
        await client.aclose()


async def test_concurrent_calls_each_get_their_own_reply_even_when_some_give_up(client: Redis) -> None:
    script = Script("inline", source="return ARGV[1]")
    await client.script_load(script.source)
    lane = _lane(client)
    try:
        calls = [
            asyncio.create_task(lane.call(script.packed([], [f"reply-{n}"]), None, "test"))
            for n in range(300)
        ]
        for n in range(0, 300, 7):
            calls[n].cancel()  # before or after its command left: the others keep their order
        results = await asyncio.gather(*calls, return_exceptions=True)
        for n, result in enumerate(results):
            if n % 7 == 0:
                assert isinstance(result, asyncio.CancelledError)
            else:
                assert result == f"reply-{n}".encode(), n
        assert await lane.call(script.packed([], ["after"]), None, "test") == b"after"
    finally:
        await lane.close()


async def test_a_connection_killed_under_waiting_calls_fails_them_and_the_next_call_reconnects(
    client: Redis,
) -> None:
    script = Script("inline", source=_SLOW)
    await client.script_load(script.source)
    lane = _lane(client)
    try:
        await lane.call(script.packed([], [0, "warm"]), None, "test")
        waiting = [
            asyncio.create_task(lane.call(script.packed([], [200, f"w{n}"]), None, "test")) for n in range(3)
        ]
        await asyncio.sleep(0.05)  # the first is running in Redis, the others queued behind it
        # The connection breaks (as on a network reset) while all three wait for replies.
        assert lane.node._link is not None
        lane.node.abort()
        results = await asyncio.gather(*waiting, return_exceptions=True)
        assert all(isinstance(r, rx.ConnectionError) for r in results), results
        assert await lane.call(script.packed([], [0, "fresh"]), None, "test") == b"fresh"
    finally:
        await lane.close()


async def test_commands_sent_together_reply_in_order_and_an_error_reply_is_raised(client: Redis) -> None:
    lane = _lane(client)
    try:
        await client.hset("h", mapping={f"f{n}": f"v{n}" for n in range(50)})
        replies = await lane.call_many(
            [(pack_command("HGET", "h", f"f{n}"), None) for n in range(50)], "HGET"
        )
        assert replies == [f"v{n}".encode() for n in range(50)]
        unknown = Script("inline", source="return 1")  # never loaded: NOSCRIPT
        with pytest.raises(rx.NoScriptError):
            await lane.call_many(
                [(c, None) for c in (pack_command("PING"), unknown.packed([], []), pack_command("PING"))], ""
            )
        assert await lane.call(pack_command("GET", "missing"), None, "test") is None  # still in step
    finally:
        await lane.close()


async def test_bytes_that_are_no_reply_fail_the_waiting_calls_as_a_lost_connection(client: Redis) -> None:
    script = Script("inline", source=_SLOW)
    await client.script_load(script.source)
    lane = _lane(client)
    try:
        waiting = asyncio.create_task(lane.call(script.packed([], [200, "late"]), None, "test"))
        await asyncio.sleep(0.05)
        assert lane.node._link is not None
        lane.node._link.reader.feed_data(b"?not RESP\r\n")  # as if the server had sent it
        with pytest.raises(rx.ConnectionError):
            await waiting
        await asyncio.sleep(0.3)  # Redis is done with the slow script
        assert await lane.call(script.packed([], [0, "fresh"]), None, "test") == b"fresh"
    finally:
        await lane.close()


async def test_the_lane_greets_with_acl_user_and_password_and_selects_the_database(
    own_redis: RedisServerProcess, client: Redis
) -> None:
    await client.acl_setuser("lane", enabled=True, passwords=["+lane-secret"], keys=["*"], commands=["+@all"])
    address = ("127.0.0.1", own_redis.port or 0)
    lane = ScriptLane(address, LinkOptions(timeout=2, username="lane", password="lane-secret", database=3))
    try:
        assert await lane.call(pack_command("SET", "in-db-3", "yes"), None, "SET") == b"OK"
        db3 = Redis(host="127.0.0.1", port=own_redis.port or 0, db=3)
        assert await db3.get("in-db-3") == b"yes"
        assert await client.get("in-db-3") is None
        await db3.aclose()
    finally:
        await lane.close()
    wrong = ScriptLane(address, LinkOptions(timeout=2, username="lane", password="wrong"))
    try:
        # Refused at the greeting: the command never left, so it is safe to retry.
        with pytest.raises(NotSentError):
            await wrong.call(pack_command("GET", "x"), None, "GET")
    finally:
        await wrong.close()


async def test_a_failed_connect_is_not_sent() -> None:
    lane = ScriptLane(("127.0.0.1", free_port()), LinkOptions(timeout=1))
    try:
        with pytest.raises(NotSentError, match="connecting to"):
            await lane.call(pack_command("PING"), None, "PING")
    finally:
        await lane.close()


def test_error_replies_map_to_redis_py_exception_classes_by_their_first_word() -> None:
    moved = reply_error("MOVED 3999 127.0.0.1:6381")
    assert isinstance(moved, rx.MovedError) and (moved.slot_id, moved.host, moved.port) == (
        3999,
        "127.0.0.1",
        6381,
    )
    ask = reply_error("ASK 3999 127.0.0.1:6381")
    assert isinstance(ask, rx.AskError) and not isinstance(ask, rx.MovedError)
    for reply, kind in [
        ("NOSCRIPT No matching script.", rx.NoScriptError),
        ("OOM command not allowed when used memory > 'maxmemory'.", rx.OutOfMemoryError),
        ("TRYAGAIN Multiple keys request during rehashing of slot", rx.TryAgainError),
        ("CLUSTERDOWN The cluster is down", rx.ClusterDownError),
        ("READONLY You can't write against a read only replica.", rx.ReadOnlyError),
        ("LOADING Redis is loading the dataset in memory", rx.BusyLoadingError),
        ("MASTERDOWN Link with MASTER is down", rx.MasterDownError),
        ("NOPERM this user has no permissions", rx.NoPermissionError),
        ("WRONGPASS invalid username-password pair", rx.AuthenticationError),
        ("ERR unknown command", rx.ResponseError),
    ]:
        error = reply_error(reply)
        assert type(error) is kind, reply
        assert str(error) == reply  # the code stays first: store_unavailable names it
