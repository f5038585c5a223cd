"""Redis Cluster in production shape: one slot per script, resharding and failover under load.

These tests get a cluster of their own (they move slots and kill nodes), started from
real redis-server processes on loopback ports. The general RPC suite runs against the
shared cluster of tests/conftest.py as well.
"""

from __future__ import annotations

import asyncio
import collections
import random
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import grpc
import pytest
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

from session_service.app import Service, start
from session_service.config import Settings
from session_service.domain.ids import new_session_id
from session_service.store.keys import KeySchema
from session_service.store.scripts import NAMES, Scripts
from session_service.tokens.keyring import Keyring
from tests.conftest import refresh_token_keys_file, stop_within
from tests.redis_cluster import LocalRedisCluster

if TYPE_CHECKING:
    from session_wire.v1.session_pb2_grpc import SessionServiceAsyncStub


@pytest.fixture
async def cluster_service(own_cluster: LocalRedisCluster, keyring: Keyring) -> AsyncIterator[Service]:
    service = await start(
        Settings(
            host="127.0.0.1",
            port=0,
            redis_url=own_cluster.url,
            redis_mode="cluster",
            redis_prefix=f"c{random.randrange(10**6)}",
            redis_wait_replicas=1,
            redis_timeout=0.5,
            redis_retry_timeout=4.0,
            health_interval=0.1,
            metrics_port=0,
            # The load logs 40 users in many times a second on purpose: what is measured is
            # the cluster's behaviour, not the per-user rate limits (tested on their own).
            create_rate_per_user=0,
            refresh_rate_per_user=0,
            refresh_token_keys_file=refresh_token_keys_file(),
            allow_unauthenticated_callers=True,  # plaintext test servers, a real Redis
        ),
        keyring=keyring,
    )
    yield service
    await stop_within(service, 20)


def test_every_key_a_script_touches_maps_to_one_slot(own_cluster: LocalRedisCluster) -> None:
    node = own_cluster.nodes[0].client()
    keys = KeySchema("ss")
    try:
        for user in ("alice", "bob", "ü{}:*", "x" * 256):
            sid = new_session_id(user)
            other = new_session_id(user)
            _, index, session_prefix = keys.for_user(user)
            # KEYS of every script (session + index, or the index alone) and the keys the
            # user-wide scripts derive from the index (prefix + member).
            touched = [*keys.for_session(sid), index, session_prefix + other.nonce]
            slots = {node.cluster("KEYSLOT", key) for key in touched}
            assert len(slots) == 1, (user, touched, slots)
    finally:
        node.close()
    # Every script is sent with a #! line, which makes Redis Cluster itself refuse any
    # access to a second slot, so the RPC suite running on a cluster proves it too.
    for script in Scripts().by_name.values():
        assert script.source.startswith("#!lua"), script.name
    assert set(Scripts().by_name) == set(NAMES)


@dataclass
class Load:
    """A bounded mixed load of Create/Get/Refresh/Update/Revoke, recording what was acknowledged."""

    stub: SessionServiceAsyncStub
    created: dict[str, str] = field(default_factory=dict)  # session id -> latest refresh token
    revoked: set[str] = field(default_factory=set)
    maybe_revoked: set[str] = field(default_factory=set)
    """Sessions whose Revoke failed: it may or may not have taken effect."""
    requests: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    details: collections.Counter[str] = field(default_factory=collections.Counter)
    error_times: list[float] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    lost: int = 0
    """Acknowledged, never revoked sessions that are not readable afterwards."""
    resurrected: int = 0
    """Acknowledged revocations whose session is readable again afterwards."""

    async def call(self, method: str, request: object) -> object | None:
        self.requests += 1
        try:
            reply: object = await getattr(self.stub, method)(request, timeout=5)
            return reply
        except grpc.aio.AioRpcError as e:
            self.errors[f"{method}:{e.code().name}"] += 1
            self.details[e.details() or ""] += 1
            self.error_times.append(time.monotonic())
            return None

    async def worker(self, n: int) -> None:
        # Each worker uses only its own sessions, so workers never race each other and
        # any error is the store's doing.
        rng = random.Random(n)
        mine: dict[str, str] = {}
        i = 0
        while not self.stop.is_set():
            i += 1
            reply = await self.call("Create", pb.CreateRequest(user_id=f"u{n}-{i % 40}"))
            if isinstance(reply, pb.CreateResponse):
                mine[reply.session.session_id] = self.created[reply.session.session_id] = reply.refresh_token
            if not mine:
                continue
            sid = rng.choice(list(mine))
            await self.call("Get", pb.GetRequest(session_id=sid))
            refreshed = await self.call("Refresh", pb.RefreshRequest(refresh_token=mine[sid]))
            if isinstance(refreshed, pb.RefreshResponse):
                mine[sid] = self.created[sid] = refreshed.refresh_token
            await self.call("Update", pb.UpdateRequest(session_id=sid, set={"n": str(i).encode()}))
            if i % 7 == 0:
                revoked = await self.call("Revoke", pb.RevokeRequest(session_id=sid))
                (self.revoked if isinstance(revoked, pb.RevokeResponse) else self.maybe_revoked).add(sid)
                del mine[sid]

    async def audit(self) -> None:
        """Reads back every session the load was told about."""
        for sid in self.created:
            try:
                await self.stub.Get(pb.GetRequest(session_id=sid), timeout=5)
                self.resurrected += sid in self.revoked
            except grpc.aio.AioRpcError as e:
                assert e.code() == grpc.StatusCode.NOT_FOUND, e
                self.lost += sid not in self.revoked and sid not in self.maybe_revoked

    def report(self, title: str) -> str:
        window = (self.error_times[-1] - self.error_times[0]) if self.error_times else 0.0
        return (
            f"{title}: requests={self.requests} sessions={len(self.created)} revoked={len(self.revoked)} "
            f"errors={dict(self.errors)} error_window={window:.2f}s details={dict(self.details)}"
        )


async def _run_load(service: Service, during: object, seconds_after: float, workers: int = 8) -> Load:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        load = Load(session_pb2_grpc.SessionServiceStub(channel))
        tasks = [asyncio.create_task(load.worker(n)) for n in range(workers)]
        await asyncio.sleep(0.5)
        await during()  # type: ignore[operator]
        await asyncio.sleep(seconds_after)
        load.stop.set()
        await asyncio.gather(*tasks)
        await load.audit()
    return load


async def test_resharding_under_load_fails_no_call_and_loses_no_session(
    own_cluster: LocalRedisCluster, cluster_service: Service
) -> None:
    source, target = own_cluster.primaries()[:2]

    async def reshard() -> None:
        await asyncio.to_thread(
            subprocess.run,
            [
                "redis-cli", "--cluster", "reshard", f"127.0.0.1:{source.port}",
                "--cluster-from", own_cluster.node_id(source), "--cluster-to", own_cluster.node_id(target),
                "--cluster-slots", "3000", "--cluster-yes", "--cluster-pipeline", "5",
            ],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    load = await _run_load(cluster_service, reshard, seconds_after=0.5)
    print(load.report("resharding 3000 slots"), f"lost={load.lost}")
    assert load.requests > 200
    assert sum(load.errors.values()) == 0, load.report("resharding")
    assert load.lost == 0 and load.resurrected == 0


async def test_failover_under_load_keeps_every_acknowledged_write(
    own_cluster: LocalRedisCluster, cluster_service: Service
) -> None:
    victim = own_cluster.primaries()[0]
    killed_at: list[float] = []

    async def restart_victim() -> None:
        # The killed node comes back (as an orchestrator would restart it) and rejoins as
        # a replica, so its shard can acknowledge durable writes again.
        await asyncio.sleep(4)
        await asyncio.to_thread(victim.start)

    restarts: list[asyncio.Task[None]] = []

    async def kill_primary() -> None:
        killed_at.append(time.monotonic())
        victim.kill()
        restarts.append(asyncio.create_task(restart_victim()))

    load = await _run_load(cluster_service, kill_primary, seconds_after=10)
    await restarts[0]
    await asyncio.to_thread(own_cluster.wait_healthy)
    window = (load.error_times[-1] - killed_at[0]) if load.error_times else 0.0
    print(load.report("failover"), f"failover_window={window:.2f}s lost={load.lost}")
    codes = {key.split(":")[1] for key in load.errors}
    # Never INTERNAL or UNKNOWN (e.g. redis-py tearing a connection down mid-send):
    # only UNAVAILABLE, the status a caller retries.
    assert not codes & {"INTERNAL", "UNKNOWN"}, load.report("failover")
    assert codes <= {"UNAVAILABLE"}, load.errors
    assert all(t >= killed_at[0] for t in load.error_times), "errors before the failover"
    assert load.lost == 0, "an acknowledged Create was lost"
    assert load.resurrected == 0, "an acknowledged Revoke was undone"
    # Recovered by itself: new writes succeed on every shard.
    async with grpc.aio.insecure_channel(f"127.0.0.1:{cluster_service.port}") as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        for n in range(30):
            await stub.Create(pb.CreateRequest(user_id=f"after-{n}"), timeout=10)
