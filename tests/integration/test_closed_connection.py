"""A connection closed under redis-py before a command is written (a failover, a topology
refresh) is a retry, never an unexpected error: under uvloop the write fails with a
RuntimeError from the transport, under asyncio with an AttributeError inside redis-py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvloop
from redis import exceptions as rx

from session_service.config import Settings
from session_service.errors import StoreUnavailable
from session_service.store.connect import redis_client
from session_service.store.execution import ExecutionPolicy, ScriptRunner, translate_errors
from tests.conftest import RedisTarget

pytestmark = pytest.mark.integration


def _connections(client: Any) -> list[Any]:
    """The client's open connections (a standalone pool's, or every cluster node's)."""
    if hasattr(client, "get_nodes"):
        return [c for node in client.get_nodes() for c in node._free]
    return list(client.connection_pool._available_connections)


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
        runner = ScriptRunner(client, ExecutionPolicy(retry_timeout=2.0))
        await runner.read("SET", "closed-connection:k", "v")
        assert _close_transports_underneath(client) > 0
        await asyncio.sleep(0)  # the loop notices the closed transport
        value = await runner.read("GET", "closed-connection:k")
        # Unretried, the same failure is the store being unavailable, not an unexpected error.
        _close_transports_underneath(client)
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
