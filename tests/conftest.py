"""Fixtures: a real redis-server on a loopback port and real gRPC servers over real channels."""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import dataclasses
import functools
import itertools
import secrets
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from session_client.status import error_details
from session_wire.v1 import session_pb2_grpc

if TYPE_CHECKING:
    from session_wire.v1.session_pb2_grpc import SessionServiceAsyncStub

from session_service.app import Service, start
from session_service.config import Settings
from session_service.domain.clock import Clock
from session_service.store.embedded import RedisServerProcess
from session_service.tokens.keyring import Keyring
from tests.redis_cluster import LocalRedisCluster, local_cluster

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
def redis_cluster() -> Iterator[LocalRedisCluster]:
    """One real 6-node Redis Cluster (3 primaries, 3 replicas) for the whole run."""
    with local_cluster() as cluster:
        yield cluster


@dataclasses.dataclass(frozen=True)
class RedisTarget:
    """Where a test service keeps its sessions."""

    mode: str
    url: str


@pytest.fixture(scope="session", params=["standalone", "cluster"])
def redis_target(request: pytest.FixtureRequest) -> RedisTarget:
    """Every service-level test runs against a single node and against a real cluster."""
    if request.param == "cluster":
        cluster: LocalRedisCluster = request.getfixturevalue("redis_cluster")
        return RedisTarget("cluster", cluster.url)
    server: RedisServerProcess = request.getfixturevalue("redis_server")
    return RedisTarget("standalone", server.url)


def raw_client(target: RedisTarget) -> Any:
    """A plain client (bytes replies) to inspect what the service stored."""
    if target.mode == "cluster":
        first = target.url.split(",")[0].removeprefix("redis://")
        host, port = first.split(":")
        return RedisCluster(host=host, port=int(port), socket_timeout=5, socket_connect_timeout=5)
    return Redis.from_url(target.url, socket_timeout=5, socket_connect_timeout=5)


@pytest.fixture(scope="session")
def keyring() -> Keyring:
    """One signing key for the run (generating RSA keys per test would be slow)."""
    return Keyring.generate("EdDSA")


@functools.cache
def refresh_token_keys_file() -> str:
    """One SESSION_REFRESH_TOKEN_KEYS_FILE for the run: every test service, like every
    replica of a deployment, accepts the refresh tokens the others issued."""
    folder = tempfile.mkdtemp(prefix="session-service-tests-")
    atexit.register(shutil.rmtree, folder, True)
    path = Path(folder) / "refresh-token-keys"
    path.write_text(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    return str(path)


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
async def start_service(redis_target: RedisTarget, keyring: Keyring) -> AsyncIterator[ServiceFactory]:
    """Starts services with setting overrides (and optionally a clock); stops them after the test."""
    started: list[Running] = []

    async def factory(clock: Clock | None = None, keys: Keyring | None = None, **overrides: Any) -> Running:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": 0,
            "redis_url": redis_target.url,
            "redis_mode": redis_target.mode,
            "redis_prefix": f"t{next(_prefixes)}",
            "health_interval": 0.1,
            "redis_timeout": 1.0,
            "metrics_port": 0,
            "refresh_token_keys_file": refresh_token_keys_file(),
            "allow_unauthenticated_callers": True,  # plaintext test servers, a real Redis
        }
        values.update(overrides)
        service = await start(Settings(**values), clock=clock, keyring=keys or keyring)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.port}")
        running = Running(
            service,
            channel,
            session_pb2_grpc.SessionServiceStub(channel),
            raw_client(redis_target),
        )
        started.append(running)
        return running

    yield factory
    for r in started:
        await within(5, r.channel.close(), "closing the test's channel")
        await within(5, r.redis.aclose(), "closing the test's Redis client")
        await stop_within(r.service, 20)


async def within(seconds: float, aw: Awaitable[Any], what: str) -> Any:
    """Awaits ``aw`` for at most ``seconds``; a hang fails the test at once (instead of at
    the suite's timeout) and prints where every task waits.

    asyncio.wait, not wait_for: wait_for cancels the hung awaitable and then waits for
    that cancellation, which is exactly what a hang with a lost cancellation never ends."""
    task = asyncio.ensure_future(aw)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        for other in asyncio.all_tasks():
            other.print_stack(file=sys.stderr)
        task.cancel()
        pytest.fail(f"{what} did not finish within {seconds}s (task stacks on stderr)")
    return task.result()


async def stop_within(service: Service, seconds: float) -> None:
    """Stops a service; a stop that hangs fails the test and shows where every task waits."""
    await within(seconds, service.stop(grace=0), "stopping the service")


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


def _dump_tasks(signum: int, frame: object) -> None:
    # `kill -USR1 <pytest pid>` shows where every asyncio task waits (debugging a hang).
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        return
    for task in asyncio.all_tasks(loop):
        task.print_stack(file=sys.stderr)


signal.signal(signal.SIGUSR1, _dump_tasks)


_MARK_BY_FOLDER = {
    "unit": "unit",
    "integration": "integration",
    "security": "integration",
    "cluster": "cluster",
    "client": "client",
    "deploy": "deploy",
    "packaging": "slow",
    "gateway": "integration",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks each test by its folder, and every test that runs against the cluster as ``cluster``."""
    for item in items:
        parts = item.path.relative_to(config.rootpath).parts
        if len(parts) > 1 and parts[0] == "tests" and parts[1] in _MARK_BY_FOLDER:
            item.add_marker(_MARK_BY_FOLDER[parts[1]])
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("redis_target") == "cluster":
            item.add_marker("cluster")
        elif "redis_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker("cluster")
