"""Revocations that cannot be lost, on a real 6-node cluster with faults injected: the
stream's shard frozen, the replica that ended a session killed before relaying it, the
stream's primary failing over. And verifiers that refuse a revoked session's tokens
within their freshness bound all the while (``pytest -s`` shows the figures)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import redis
from session_client import RevocationsStale, SessionClient, SessionRevoked, TokenError, Verifier
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

from session_service.app import Service, start
from session_service.config import Settings
from session_service.domain.ids import user_tag
from session_service.store.embedded import RedisServerProcess
from session_service.store.keys import PENDING_INDEXES, KeySchema
from session_service.tokens.keyring import Keyring
from tests.conftest import free_port, refresh_token_keys_file, stop_within
from tests.integration.test_server import _wait_serving
from tests.redis_cluster import LocalRedisCluster, Node, frozen, set_config, shard_of


def _settings(url: str, prefix: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "redis_url": url,
        "redis_mode": "cluster",
        "redis_prefix": prefix,
        "redis_timeout": 0.5,
        "redis_retry_timeout": 2.0,
        "health_interval": 0.2,
        "metrics_port": 0,
        "refresh_token_keys_file": refresh_token_keys_file(),
        "allow_unauthenticated_callers": True,  # plaintext test servers, a real Redis
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def services(own_cluster: LocalRedisCluster, keyring: Keyring) -> AsyncIterator[list[Service]]:
    started: list[Service] = []
    yield started
    for service in started:
        await stop_within(service, 20)


def _users_away_from(cluster: LocalRedisCluster, prefix: str, shard: Node, count: int) -> list[str]:
    """Users whose sessions live on other shards than ``shard``."""
    users: list[str] = []
    n = 0
    while len(users) < count:
        n += 1
        user = f"user-{random.randrange(10**9)}-{n}"
        if shard_of(cluster, f"{prefix}:{{{user_tag(user)}}}:u")[0] is not shard:
            users.append(user)
    return users


def _stream(cluster: LocalRedisCluster, prefix: str) -> list[tuple[list[str], str]]:
    """The revocation stream's events: (session ids, reason)."""
    client = redis.RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port, socket_timeout=2)
    try:
        return _entries(client, f"{prefix}:{{revocations}}")
    finally:
        client.close()


def _entries(client: Any, stream: str) -> list[tuple[list[str], str]]:
    entries: Any = client.xrange(stream)
    return [(fields[b"sids"].decode().split(), fields[b"reason"].decode()) for _, fields in entries]


async def _until(check: Any, timeout: float, message: str) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, message
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_revocations_made_while_the_stream_shard_is_frozen_all_arrive_once(
    own_cluster: LocalRedisCluster, keyring: Keyring, services: list[Service], capsys: Any
) -> None:
    set_config(own_cluster, "cluster-require-full-coverage", "no")
    prefix = f"frz{random.randrange(10**6)}"
    service = await start(_settings(own_cluster.url, prefix), keyring=keyring)
    services.append(service)
    primary, replicas = shard_of(own_cluster, f"{prefix}:{{revocations}}")
    users = _users_away_from(own_cluster, prefix, primary, 8)
    target = f"127.0.0.1:{service.port}"
    async with grpc.aio.insecure_channel(target) as channel, SessionClient(target) as client:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        one_each = [await stub.Create(pb.CreateRequest(user_id=u)) for u in users[:6]]
        everywhere = [await stub.Create(pb.CreateRequest(user_id=users[6])) for _ in range(3)]
        verifier = Verifier(client, max_staleness=1.0)
        await verifier.start()
        revoke_took = refused_within = 0.0
        try:
            with frozen(primary, *replicas):
                frozen_at = time.monotonic()
                revokes: list[tuple[pb.RevokeRequest, list[pb.CreateResponse], int]] = [
                    *((pb.RevokeRequest(session_id=c.session.session_id), [c], 1) for c in one_each),
                    (pb.RevokeRequest(user_id=users[6]), everywhere, 3),
                ]
                for request, ended, count in revokes:
                    revoke_started = time.monotonic()
                    assert (await stub.Revoke(request, timeout=10)).revoked_count == count
                    answered = time.monotonic()
                    revoke_took = max(revoke_took, answered - revoke_started)
                    # The verifier cannot hear of it, yet refuses the tokens within its bound
                    # (stale view → Introspect, which reads the users' own shards).
                    for c in ended:
                        refused = await _refused(verifier, c.access_token, answered, 1.0 + 0.5)
                        refused_within = max(refused_within, refused)
                # The relay finds events waiting for over a second and says so (metric).
                await _until(lambda: _lagging(service) == 1, 5, "the relay never reported its lag")
                frozen_for = time.monotonic() - frozen_at
            expected = {c.session.session_id for c in [*one_each, *everywhere]}
            arrived = await _until(
                lambda: {s for sids, _ in _stream(own_cluster, prefix) for s in sids} >= expected,
                20,
                "revocations made while the stream's shard was frozen never arrived",
            )
            events = _stream(own_cluster, prefix)
            sids = [s for ids, _ in events for s in ids]
            assert sorted(sids) == sorted(expected), "each revocation arrives once"
            assert sorted(r for _, r in events) == ["logout"] * 6 + ["logout_everywhere"]
            await _until(
                lambda: all(verifier.is_revoked(s) for s in expected), 10, "the verifier never caught up"
            )
            await _until(lambda: not verifier.stale, 10, "the verifier never became fresh again")
            await _until(lambda: _lagging(service) == 0, 5, "the relay still reports lag after the thaw")
        finally:
            await verifier.close()
    with capsys.disabled():
        print(
            f"\n  stream shard frozen {frozen_for:.1f}s: each of 7 revokes answered within "
            f"{revoke_took:.2f}s, its tokens refused by a verifier (max_staleness 1s) within "
            f"{refused_within:.2f}s of the answer; after the thaw all {len(expected)} revocations "
            f"in the stream, once each, within {arrived:.2f}s"
        )


def _lagging(service: Service) -> float | None:
    """The service's revocation_relay_lagging metric."""
    assert service.telemetry is not None
    return service.telemetry.metrics.registry.get_sample_value("session_service_revocation_relay_lagging")


async def _refused(verifier: Verifier, token: str, since: float, limit: float) -> float:
    """Seconds from ``since`` until the verifier refuses the token (SessionRevoked)."""
    while True:
        try:
            await verifier.verify_async(token)
        except SessionRevoked:
            return time.monotonic() - since
        assert time.monotonic() - since < limit, "a revoked token was accepted past the bound"
        await asyncio.sleep(0.02)


@dataclass(frozen=True)
class _Target:
    """Where a dead-replica test runs: its URL and mode, and a raw client for checks."""

    url: str
    mode: str
    raw: Callable[[], Any]
    ports: list[int]
    """Every node's port."""


@pytest.fixture(params=["standalone", "cluster"])
def dead_replica_target(request: pytest.FixtureRequest) -> _Target:
    if request.param == "cluster":
        cluster: LocalRedisCluster = request.getfixturevalue("own_cluster")
        port = cluster.nodes[0].port
        return _Target(
            cluster.url,
            "cluster",
            lambda: redis.RedisCluster(host="127.0.0.1", port=port),
            [n.port for n in cluster.live_nodes()],
        )
    server: RedisServerProcess = request.getfixturevalue("redis_server")
    assert server.port is not None
    return _Target(server.url, "standalone", lambda: redis.Redis.from_url(server.url), [server.port])


@contextlib.contextmanager
def _user_without_the_stream(target: _Target, prefix: str, tag: str) -> Iterator[str]:
    """A Redis ACL user (on every node) that may touch the keys of the user ``tag`` and the
    pending-outbox indexes, but not the revocation stream: a service connected as it ends
    sessions and notes their events, and every relay of those events is refused (NOPERM).
    Yields the service's SESSION_REDIS_URL for that user."""
    name, password = f"no-stream-{prefix}", secrets.token_hex(16)
    rules = ["on", f">{password}", "+@all", f"~{prefix}:{{{tag}}}:*", f"~{prefix}:{{revocation-outboxes-*}}"]
    for port in target.ports:
        with redis.Redis(host="127.0.0.1", port=port) as node:
            node.execute_command("ACL", "SETUSER", name, "reset", *rules)
    try:
        yield target.url.replace("redis://", f"redis://{name}:{password}@")
    finally:
        for port in target.ports:
            with redis.Redis(host="127.0.0.1", port=port) as node:
                node.acl_deluser(name)


async def test_a_revocation_arrives_although_the_replica_that_made_it_died_before_relaying(
    dead_replica_target: _Target, keyring: Keyring, services: list[Service], capsys: Any
) -> None:
    # The dying replica connects as an ACL user that may not touch the revocation stream,
    # so its relay cannot publish what its Revoke recorded, and is then killed (SIGKILL).
    # On a single Redis the revoke script notes its event itself; in a cluster the note is
    # written before the script. Either way another replica must find it.
    target = dead_replica_target
    prefix = f"kil{random.randrange(10**6)}"
    tag = user_tag("mortal")
    port = free_port()
    with _user_without_the_stream(target, prefix, tag) as url:
        process = subprocess.Popen(  # noqa: ASYNC220 - started once, waited for in a thread
            [sys.executable, "-m", "session_service", "serve"],
            env={
                **os.environ,
                "SESSION_HOST": "127.0.0.1",
                "SESSION_PORT": str(port),
                "SESSION_REDIS_URL": url,
                "SESSION_DEV": "true",  # both replicas sign with throwaway keys: tokens are not used here
                "SESSION_REDIS_MODE": target.mode,
                "SESSION_REDIS_PREFIX": prefix,
                "SESSION_METRICS_PORT": "0",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            await asyncio.to_thread(_wait_serving, port, process)
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = session_pb2_grpc.SessionServiceStub(channel)
                created = await stub.Create(pb.CreateRequest(user_id="mortal"))
                revoke = pb.RevokeRequest(session_id=created.session.session_id)
                assert (await stub.Revoke(revoke, timeout=5)).revoked_count == 1
        finally:
            process.kill()  # SIGKILL: nothing of the replica runs after this
            await asyncio.to_thread(process.wait, 10)
    assert process.returncode == -signal.SIGKILL
    sid = created.session.session_id
    keys = KeySchema(prefix)
    # The session ended, its event is in the user's outbox and noted in a pending-outbox
    # index, and nothing reached the stream.
    raw = target.raw()
    try:
        assert raw.hlen(keys.outbox(tag)) == 1
        notes = [m.decode() for n in range(PENDING_INDEXES) for m in raw.zrange(keys.pending(n), 0, -1)]
        assert [note.partition(" ")[0] for note in notes] == [tag]
        assert _entries(raw, keys.revocations()) == []
        # Another replica comes up (or was up all along): its relay finds the note.
        services.append(await start(_settings(target.url, prefix, redis_mode=target.mode), keyring=keyring))
        arrived = await _until(
            lambda: _entries(raw, keys.revocations()) == [([sid], "logout")],
            10,
            "the revocation of a session whose replica died was never published",
        )
        # The relay deletes the outbox entry once the stream has the event (a moment
        # later), then drops the note, and counts the event as recovered.
        telemetry = services[-1].telemetry
        assert telemetry is not None
        registry = telemetry.metrics.registry
        await _until(
            lambda: (
                raw.hlen(keys.outbox(tag)) == 0
                and registry.get_sample_value("session_service_revocation_events_recovered_total") == 1
                and not any(raw.zcard(keys.pending(n)) for n in range(PENDING_INDEXES))
            ),
            5,
            "the relayed event stayed in its outbox or its note stayed, or the recovery was not counted",
        )
    finally:
        raw.close()
    with capsys.disabled():
        print(
            f"\n  replica killed after the revoke script ({target.mode}): event relayed by another "
            f"replica {arrived:.2f}s after that one started"
        )


async def _rejected_by_all(verifiers: Sequence[Verifier], token: str, started: float, limit: float) -> float:
    """Seconds from ``started`` until every verifier refuses ``token`` (verify_async, as middleware does)."""
    while True:
        results = await asyncio.gather(*(v.verify_async(token) for v in verifiers), return_exceptions=True)
        if all(isinstance(r, TokenError) for r in results):
            assert all(isinstance(r, (SessionRevoked, RevocationsStale)) for r in results), results
            return time.monotonic() - started
        assert time.monotonic() - started < limit, "a verifier accepted a revoked token past its bound"
        await asyncio.sleep(0.002)


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    p50 = statistics.median(ordered)
    return f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"


VERIFIERS = 50
MAX_STALENESS = 2.0


async def test_revocation_to_rejection_across_50_verifiers_steady_and_through_a_failover(
    own_cluster: LocalRedisCluster, keyring: Keyring, services: list[Service], capsys: Any
) -> None:
    prefix = f"fig{random.randrange(10**6)}"
    service = await start(_settings(own_cluster.url, prefix), keyring=keyring)
    services.append(service)
    target = f"127.0.0.1:{service.port}"
    victim, _ = shard_of(own_cluster, f"{prefix}:{{revocations}}")
    users = _users_away_from(own_cluster, prefix, victim, 30)
    clients = [SessionClient(target) for _ in range(VERIFIERS)]
    verifiers = [Verifier(c, max_staleness=MAX_STALENESS) for c in clients]
    async with SessionClient(target) as admin:
        await asyncio.gather(*(v.start() for v in verifiers))
        try:
            steady: list[float] = []
            for user in users[:20]:
                created = await admin.create(user)
                started = time.monotonic()
                await admin.revoke_session(created.session.session_id)
                steady.append(
                    await _rejected_by_all(verifiers, created.access_token, started, MAX_STALENESS + 1)
                )
            tokens = [await admin.create(user) for user in users[20:]]
            victim.kill()
            killed_at = time.monotonic()
            failover: list[float] = []
            for created in tokens:
                started = time.monotonic()
                await admin.revoke_session(created.session.session_id, timeout=10)
                # From the Revoke's answer: the revocation may meet a stream without a primary.
                failover.append(
                    await _rejected_by_all(verifiers, created.access_token, started, MAX_STALENESS + 3)
                )
            window = time.monotonic() - killed_at
        finally:
            await asyncio.gather(*(v.close() for v in verifiers))
            await asyncio.gather(*(c.close() for c in clients))
            await asyncio.to_thread(victim.start)
            await asyncio.to_thread(own_cluster.wait_healthy)
    with capsys.disabled():
        print(
            f"\n  revocation → rejection by all {VERIFIERS} verifiers (max_staleness {MAX_STALENESS:.0f}s), "
            f"steady, {len(steady)} revocations: {_percentiles(steady)}"
            f"\n  the same while the stream's primary fails over (killed, {len(failover)} revocations "
            f"over {window:.1f}s): {_percentiles(failover)}"
        )
