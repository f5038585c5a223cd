"""The SSF transmitter through a failover on a real 6-node cluster: the primary that holds
a receiver's delivery lease and position is killed while events are being delivered, and
the receiver still gets every event (some twice, with the same jti)."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

from session_service.app import Service, start
from session_service.store.keys import KeySchema
from session_service.tokens.keyring import Keyring
from tests.cluster.test_revocation_delivery import _settings, _users_away_from
from tests.conftest import stop_within
from tests.integration.test_ssf_transmitter import Receiver, transmitter_settings, until
from tests.redis_cluster import LocalRedisCluster, shard_of


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver(delay=0.05)
    await r.start()
    yield r
    await r.stop()


async def test_killing_the_primary_of_the_position_during_delivery_loses_no_event(
    own_cluster: LocalRedisCluster, keyring: Keyring, receiver: Receiver, tmp_path: Path
) -> None:
    while True:
        # The stream's own failover is test_revocation_delivery's: here it lives elsewhere.
        prefix = f"ssf{random.randrange(10**6)}"
        victim, _ = shard_of(own_cluster, KeySchema(prefix).ssf_position("billing"))
        if shard_of(own_cluster, KeySchema(prefix).revocations())[0] is not victim:
            break
    # The sessions live on the other shards too, so every Revoke is acknowledged.
    users = _users_away_from(own_cluster, prefix, victim, 60)
    settings = transmitter_settings(tmp_path, receiver, ssf_max_concurrent_pushes=2, ssf_lease_ttl=1.0)
    service: Service = await start(_settings(own_cluster.url, prefix, **settings), keyring=keyring)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            stub = session_pb2_grpc.SessionServiceStub(channel)
            revoked: list[str] = []

            async def revoke(user: str) -> None:
                created = await stub.Create(pb.CreateRequest(user_id=user), timeout=10)
                await stub.Revoke(pb.RevokeRequest(session_id=created.session.session_id), timeout=10)
                revoked.append(created.session.session_id)

            for user in users[:40]:
                await revoke(user)
            await until(lambda: len(receiver.pushes) >= 8, 10, "delivery under way")
            assert len(receiver.sessions()) < 40, "delivered before the failover"
            victim.kill()
            for user in users[40:]:
                await revoke(user)
            await until(lambda: receiver.sessions() >= set(revoked), 30, "every event after the failover")
    finally:
        await stop_within(service, 20)
        await asyncio.to_thread(victim.start)
        await asyncio.to_thread(own_cluster.wait_healthy)
    assert receiver.sessions() == set(revoked)
    jtis: dict[str, set[str]] = defaultdict(set)
    for claims in receiver.claims():
        jtis[claims["sub_id"]["session"]["id"]].add(claims["jti"])
    assert all(len(ids) == 1 for ids in jtis.values()), "a repeat carried another jti"
