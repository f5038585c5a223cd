"""Fixtures: a real redis-server on a loopback port and real gRPC servers over real channels."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from redis.asyncio import Redis
from session_client._gen.session.v1 import session_pb2_grpc
from session_client.status import error_details

if TYPE_CHECKING:
    from session_client._gen.session.v1.session_pb2_grpc import SessionServiceAsyncStub

from session_service.app import Service, start
from session_service.config import Settings
from session_service.domain.clock import Clock
from session_service.store.embedded import RedisServerProcess
from session_service.tokens.keyring import Keyring

_prefixes = itertools.count()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start_ms: int = 1_800_000_000_000) -> None:
        self.ms = start_ms

    def now_ms(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServerProcess]:
    """One real redis-server for the whole run; tests keep apart by key prefix."""
    server = RedisServerProcess("redis-server", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def keyring() -> Keyring:
    """One signing key for the run (generating RSA keys per test would be slow)."""
    return Keyring.generate("EdDSA")


@dataclasses.dataclass
class Running:
    """A started service with a client stub on a real channel."""

    service: Service
    channel: grpc.aio.Channel
    stub: SessionServiceAsyncStub
    redis: Any  # a raw client (bytes replies) to inspect what the service stored

    @property
    def prefix(self) -> str:
        return self.service.settings.redis_prefix


ServiceFactory = Callable[..., Awaitable[Running]]


@pytest.fixture
async def start_service(redis_server: RedisServerProcess, keyring: Keyring) -> AsyncIterator[ServiceFactory]:
    """Starts services with setting overrides (and optionally a clock); stops them after the test."""
    started: list[Running] = []

    async def factory(clock: Clock | None = None, keys: Keyring | None = None, **overrides: Any) -> Running:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": 0,
            "redis_url": redis_server.url,
            "redis_prefix": f"t{next(_prefixes)}",
            "health_interval": 0.1,
            "redis_timeout": 1.0,
            "metrics_port": 0,
        }
        values.update(overrides)
        service = await start(Settings(**values), clock=clock, keyring=keys or keyring)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.port}")
        running = Running(
            service,
            channel,
            session_pb2_grpc.SessionServiceStub(channel),
            Redis.from_url(redis_server.url),
        )
        started.append(running)
        return running

    yield factory
    for r in started:
        await r.channel.close()
        await r.redis.aclose()
        await r.service.stop(grace=0)


@pytest.fixture
async def svc(start_service: ServiceFactory) -> Running:
    """A service with default settings."""
    return await start_service()


@pytest.fixture
def clock() -> FakeClock:
    """A clock the test moves."""
    return FakeClock()


@contextlib.asynccontextmanager
async def expect_error(code: grpc.StatusCode, reason: str) -> AsyncIterator[list[grpc.RpcError]]:
    """Asserts that the block fails with this code and ErrorInfo reason."""
    caught: list[grpc.RpcError] = []
    with pytest.raises(grpc.aio.AioRpcError) as info:
        yield caught
    caught.append(info.value)
    details = error_details(info.value)
    assert details.code == code, details.message
    assert (details.domain, details.reason) == ("session.v1", reason)
