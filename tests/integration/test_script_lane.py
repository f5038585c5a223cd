"""The direct script lane (store/lane.py) against a real redis-server: pipelined replies
never go to the wrong call, and connections that failed or closed are not used again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from redis import exceptions as rx
from redis.asyncio import Redis

from session_service.store.embedded import RedisServerProcess
from session_service.store.lane import ScriptLane
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
    lane = ScriptLane(client)
    try:
        slow = asyncio.create_task(lane.call(script.packed([], [150, "first"])))
        await asyncio.sleep(0.05)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        # The first reply arrives on the abandoned connection, never on this call's.
        for n in range(5):
            assert await lane.call(script.packed([], [0, f"next-{n}"])) == f"next-{n}".encode()
    finally:
        await lane.close()


async def test_an_error_reply_leaves_the_connection_usable(client: Redis) -> None:
    script = Script("inline", "return ARGV[1]")
    lane = ScriptLane(client)
    try:
        with pytest.raises(rx.NoScriptError):
            await lane.call(script.packed([], ["x"]))
        link = lane._link
        await client.script_load(script.source)
        assert await lane.call(script.packed([], ["y"])) == b"y"
        assert lane._link is link  # the same connection served both
    finally:
        await lane.close()


async def test_connections_redis_closed_while_idle_are_not_used_again(client: Redis) -> None:
    script = Script("inline", "return redis.call('INCR', KEYS[1])")
    await client.script_load(script.source)
    lane = ScriptLane(client)
    try:
        assert await lane.call(script.packed(["counter"], [])) == 1
        # Redis drops clients idle for a second (its `timeout` setting), as after a restart.
        await client.config_set("timeout", 1)
        before = lane._link
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
        assert await lane.call(script.packed(["counter"], [])) == 2
        assert lane._link is not before  # the dead one was replaced, not kept
    finally:
        await client.config_set("timeout", 0)
        await lane.close()


async def test_a_reply_that_takes_too_long_times_out_and_the_next_call_is_not_confused(
    own_redis: RedisServerProcess,
) -> None:
    client = Redis.from_url(own_redis.url, socket_timeout=0.1)
    script = Script("inline", source=_SLOW)
    await client.script_load(script.source)
    lane = ScriptLane(client)
    try:
        with pytest.raises(rx.TimeoutError):
            await lane.call(script.packed([], [300, "late"]))
        assert lane._link is not None and lane._link.error is not None  # dropped
        await asyncio.sleep(0.3)  # Redis is done with the slow script
        assert await lane.call(script.packed([], [0, "mine"])) == b"mine"
    finally:
        await lane.close()
        await client.aclose()


async def test_concurrent_calls_each_get_their_own_reply_even_when_some_give_up(client: Redis) -> None:
    script = Script("inline", source="return ARGV[1]")
    await client.script_load(script.source)
    lane = ScriptLane(client)
    try:
        calls = [asyncio.create_task(lane.call(script.packed([], [f"reply-{n}"]))) for n in range(300)]
        for n in range(0, 300, 7):
            calls[n].cancel()  # before or after its command left: the others keep their order
        results = await asyncio.gather(*calls, return_exceptions=True)
        for n, result in enumerate(results):
            if n % 7 == 0:
                assert isinstance(result, asyncio.CancelledError)
            else:
                assert result == f"reply-{n}".encode(), n
        assert await lane.call(script.packed([], ["after"])) == b"after"
    finally:
        await lane.close()


async def test_a_connection_killed_under_waiting_calls_fails_them_and_the_next_call_reconnects(
    client: Redis,
) -> None:
    script = Script("inline", source=_SLOW)
    await client.script_load(script.source)
    lane = ScriptLane(client)
    try:
        await lane.call(script.packed([], [0, "warm"]))
        waiting = [asyncio.create_task(lane.call(script.packed([], [200, f"w{n}"]))) for n in range(3)]
        await asyncio.sleep(0.05)  # the first is running in Redis, the others queued behind it
        # The connection breaks (as on a network reset) while all three wait for replies.
        assert lane._link is not None
        lane._link.writer.transport.abort()
        results = await asyncio.gather(*waiting, return_exceptions=True)
        assert all(isinstance(r, rx.ConnectionError) for r in results), results
        assert await lane.call(script.packed([], [0, "fresh"])) == b"fresh"
    finally:
        await lane.close()


async def test_commands_sent_together_reply_in_order_and_an_error_reply_is_raised(client: Redis) -> None:
    lane = ScriptLane(client)
    try:
        await client.hset("h", mapping={f"f{n}": f"v{n}" for n in range(50)})
        replies = await lane.call_many([pack_command("HGET", "h", f"f{n}") for n in range(50)])
        assert replies == [f"v{n}".encode() for n in range(50)]
        unknown = Script("inline", source="return 1")  # never loaded: NOSCRIPT
        with pytest.raises(rx.NoScriptError):
            await lane.call_many([pack_command("PING"), unknown.packed([], []), pack_command("PING")])
        assert await lane.call(pack_command("GET", "missing")) is None  # still in step
    finally:
        await lane.close()


async def test_bytes_that_are_no_reply_fail_the_waiting_calls_as_a_lost_connection(client: Redis) -> None:
    script = Script("inline", source=_SLOW)
    await client.script_load(script.source)
    lane = ScriptLane(client)
    try:
        waiting = asyncio.create_task(lane.call(script.packed([], [200, "late"])))
        await asyncio.sleep(0.05)
        assert lane._link is not None
        lane._link.reader.feed_data(b"?not RESP\r\n")  # as if the server had sent it
        with pytest.raises(rx.ConnectionError):
            await waiting
        await asyncio.sleep(0.3)  # Redis is done with the slow script
        assert await lane.call(script.packed([], [0, "fresh"])) == b"fresh"
    finally:
        await lane.close()
