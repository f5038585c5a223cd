"""A connection closed before a command is written (a failover, the server going away) is
a retry, never an unexpected error, under uvloop and asyncio: on the lane (every script
and hot read) the command fails NotSentError, which is retried for any command; on
redis-py's client (the paths off the lane) the write fails with a RuntimeError from
uvloop's transport or an AttributeError inside redis-py, which is StoreUnavailable."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvloop
from redis import exceptions as rx

from session_service.config import Settings
from session_service.errors import StoreUnavailable
from session_service.store.connect import redis_client, script_lane
from session_service.store.execution import ExecutionPolicy, ScriptRunner, translate_errors
from session_service.store.lane import ClusterLane, Lane, NodeLane
from tests.conftest import RedisTarget

pytestmark = pytest.mark.integration


def _connections(client: Any) -> list[Any]:
    """The client's open connections (a standalone pool's, or every cluster node's)."""
    if hasattr(client, "get_nodes"):
        return [c for node in client.get_nodes() for c in node._free]
    return list(client.connection_pool._available_connections)


def _lane_nodes(lane: Lane) -> list[NodeLane]:
    if isinstance(lane, ClusterLane):
        return [*lane._primaries.values(), *lane._replicas.values()]
    return [lane.node]


def _close_lane_transports_underneath(lane: Lane) -> int:
    closed = 0
    for node in _lane_nodes(lane):
        if node._link is not None and node._link.error is None:
            node._link.writer.transport.close()
            closed += 1
    return closed


def _close_transports_underneath(client: Any) -> int:
    closed = 0
    for connection in _connections(client):
        if connection._writer is not None:
            connection._writer.transport.close()
            closed += 1
    return closed


async def _scenario(target: RedisTarget) -> tuple[bytes | None, type[BaseException] | None]:
    settings = Settings(redis_url=target.url, redis_mode=target.mode, dev=True)
    client = redis_client(settings, target.url)
    try:
        if target.mode == "cluster":
            await client.initialize()
        runner = ScriptRunner(script_lane(settings, target.url), ExecutionPolicy(retry_timeout=2.0))
        try:
            await runner.read("SET", "closed-connection:k", "v")
            assert _close_lane_transports_underneath(runner.lane) > 0
            value = await runner.read("GET", "closed-connection:k")  # queued before the loop saw it
            assert _close_lane_transports_underneath(runner.lane) > 0
            await asyncio.sleep(0)  # the loop notices the closed transport
            assert value == await runner.read("GET", "closed-connection:k")
        finally:
            await runner.close()
        # Unretried, on redis-py's client the same failure is the store being unavailable,
        # not an unexpected error.
        await client.execute_command("GET", "closed-connection:k")
        assert _close_transports_underneath(client) > 0
        await asyncio.sleep(0)
        raised: type[BaseException] | None = None
        try:
            await translate_errors(client.execute_command("GET", "closed-connection:k"))
        except (StoreUnavailable, rx.ConnectionError) as e:
            raised = type(e)
        return value, raised
    finally:
        await client.aclose()


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_a_connection_closed_before_the_write_is_retried(redis_target: RedisTarget, loop: str) -> None:
    factory = uvloop.new_event_loop if loop == "uvloop" else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        value, raised = runner.run(_scenario(redis_target))
    assert value == b"v"
    assert raised is not None and issubclass(raised, (StoreUnavailable, rx.ConnectionError))
