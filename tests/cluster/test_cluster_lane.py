"""The lane on a real 6-node Redis Cluster: routed by slot, MOVED and ASK followed while a
slot migrates (CLUSTER SETSLOT and MIGRATE, as redis-cli does it), durable writes WAIT on
the script's own connection, and reads across nodes come back in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from redis.crc import key_slot

from session_service.errors import StoreUnavailable
from session_service.store.execution import ExecutionPolicy, ScriptRunner
from session_service.store.lane import ClusterLane, LinkOptions
from session_service.store.scripts import Script
from session_service.telemetry import RedisRoundTrips
from tests.conftest import free_port
from tests.redis_cluster import LocalRedisCluster, Node, frozen, shard_of

_SET_AND_GET = Script("inline-set", "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])")


def _lane(cluster: LocalRedisCluster, **options: Any) -> ClusterLane:
    seeds = [("127.0.0.1", node.port) for node in cluster.nodes[:3]]
    return ClusterLane(seeds, LinkOptions(timeout=2.0), **options)


@pytest.fixture
async def lane(own_cluster: LocalRedisCluster) -> AsyncIterator[ClusterLane]:
    own_cluster.wait_healthy()
    lane = _lane(own_cluster)
    yield lane
    await lane.close()


def _command(node: Node, *args: Any) -> Any:
    client = node.client()
    try:
        return client.execute_command(*args)  # type: ignore[no-untyped-call]
    finally:
        client.close()


def _begin_migration(cluster: LocalRedisCluster, slot: int, source: Node, target: Node) -> None:
    _command(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", cluster.node_id(source))
    _command(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", cluster.node_id(target))


def _migrate_keys(source: Node, target: Node, keys: list[str]) -> None:
    _command(source, "MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys)


def _end_migration(cluster: LocalRedisCluster, slot: int, source: Node, target: Node) -> None:
    # The target first, then the source, then the others (as redis-cli does).
    owner = cluster.node_id(target)
    others = [n for n in cluster.primaries() if n.port not in (source.port, target.port)]
    for node in (target, source, *others):
        _command(node, "CLUSTER", "SETSLOT", slot, "NODE", owner)


def _other_primary(cluster: LocalRedisCluster, source: Node) -> Node:
    return next(node for node in cluster.primaries() if node.port != source.port)


async def test_a_slot_moved_by_resharding_is_followed_and_the_slot_map_learns_it(
    own_cluster: LocalRedisCluster, lane: ClusterLane
) -> None:
    key = "{lane-moved}:k"
    slot = key_slot(key.encode())
    assert await lane.call(_SET_AND_GET.packed_source([key], ["before"]), key, "EVAL") == b"before"
    source, _ = shard_of(own_cluster, key)
    target = _other_primary(own_cluster, source)
    _begin_migration(own_cluster, slot, source, target)
    _migrate_keys(source, target, [key])
    _end_migration(own_cluster, slot, source, target)
    # The lane still maps the slot to the source, which answers MOVED: followed at once.
    assert lane._topology is not None and lane._topology.primary[slot] == ("127.0.0.1", source.port)
    assert await lane.call(_SET_AND_GET.packed_source([key], ["after"]), key, "EVAL") == b"after"
    assert (lane._topology.primary[slot], lane._redirections) == (("127.0.0.1", target.port), 1)
    assert await lane.call(_SET_AND_GET.packed_source([key], ["again"]), key, "EVAL") == b"again"
    assert lane._redirections == 1  # the next call went to the new owner directly
    assert _command(target, "GET", key) == b"again"


async def test_a_key_already_migrating_is_followed_by_asking_its_new_node(
    own_cluster: LocalRedisCluster, lane: ClusterLane
) -> None:
    moved, staying = "{lane-ask}:moved", "{lane-ask}:staying"
    slot = key_slot(moved.encode())
    runner = ScriptRunner(lane, ExecutionPolicy(retry_timeout=2.0))
    await runner.run(_SET_AND_GET, [moved], ["v1"], retry_after_loss=True)
    await runner.run(_SET_AND_GET, [staying], ["s1"], retry_after_loss=True)
    source, _ = shard_of(own_cluster, moved)
    target = _other_primary(own_cluster, source)
    _begin_migration(own_cluster, slot, source, target)
    try:
        _migrate_keys(source, target, [moved])
        # The source no longer has the key: ASK, and the lane sends ASKING + the command to
        # the target in one write; the slot map is not changed by an ASK.
        assert await runner.read("GET", moved) == b"v1"
        assert await runner.read("GET", staying) == b"s1"
        assert lane._topology is not None and lane._topology.primary[slot] == ("127.0.0.1", source.port)
        # A script touching a migrated key is asked at the target too.
        assert await runner.run(_SET_AND_GET, [moved], ["v2"], retry_after_loss=True) == b"v2"
    finally:
        _migrate_keys(source, target, [staying])
        _end_migration(own_cluster, slot, source, target)
    assert await runner.read("GET", staying) == b"s1"
    assert await runner.read("GET", moved) == b"v2"
    assert _command(target, "GET", moved) == b"v2"


async def test_a_durable_write_waits_for_a_replica_on_the_scripts_own_connection(
    own_cluster: LocalRedisCluster, lane: ClusterLane
) -> None:
    key = "{lane-durable}:k"
    runner = ScriptRunner(lane, ExecutionPolicy(retry_timeout=1.0, wait_replicas=1, wait_timeout_ms=300))
    assert await runner.run(_SET_AND_GET, [key], ["one"], retry_after_loss=True, durable=True) == b"one"
    primary, replicas = shard_of(own_cluster, key)
    # WAIT counts the replicas that have the writes of its own connection. Sent on any
    # other connection (one that wrote nothing) it would count the frozen replica too.
    with frozen(*replicas):
        with pytest.raises(StoreUnavailable, match="acknowledged by 0 of 1"):
            await runner.run(_SET_AND_GET, [key], ["two"], retry_after_loss=False, durable=True)
    assert _command(primary, "GET", key) == b"two"  # the primary has it; only the ack was missing
    own_cluster.wait_healthy()
    assert await runner.run(_SET_AND_GET, [key], ["three"], retry_after_loss=True, durable=True) == b"three"


class _Recorder:
    """Counts the lane's round trips by node (the telemetry seam, no Redis involved)."""

    def __init__(self) -> None:
        self.round_trips: list[tuple[str, tuple[str, int], int]] = []

    def start(
        self, name: str, operation: str, address: tuple[str, int], database: int | None, batch: int
    ) -> Any:
        self.round_trips.append((name, address, batch))
        return object()

    def end(self, span: Any, error: BaseException | None) -> None:
        pass


async def test_reads_across_nodes_take_one_round_trip_per_node_and_reply_in_order(
    own_cluster: LocalRedisCluster,
) -> None:
    recorder = _Recorder()
    lane = _lane(own_cluster, spans=recorder)
    try:
        runner = ScriptRunner(lane, ExecutionPolicy(retry_timeout=2.0))
        keys = [f"{{lane-many-{n}}}:k" for n in range(60)]
        for n, key in enumerate(keys):
            await runner.read("SET", key, f"v{n}")
        nodes = {("127.0.0.1", shard_of(own_cluster, key)[0].port) for key in keys[:12]}
        assert len({("127.0.0.1", shard_of(own_cluster, key)[0].port) for key in keys}) == 3
        recorder.round_trips.clear()
        replies = await runner.read_many([("GET", key) for key in keys])
        assert replies == [f"v{n}".encode() for n in range(60)]
        assert nodes <= {address for _, address, _ in recorder.round_trips}
        assert len(recorder.round_trips) == 3  # one per primary
        assert sum(batch for *_, batch in recorder.round_trips) == 60
    finally:
        await lane.close()


async def test_reads_from_replicas_go_to_replicas_and_writes_to_primaries(
    own_cluster: LocalRedisCluster,
) -> None:
    own_cluster.wait_healthy()
    recorder = _Recorder()
    lane = _lane(own_cluster, spans=recorder, read_from_replicas=True)
    try:
        runner = ScriptRunner(lane, ExecutionPolicy(retry_timeout=2.0, wait_replicas=1))
        key = "{lane-replica}:k"
        await runner.run(_SET_AND_GET, [key], ["r"], retry_after_loss=True, durable=True)
        primary, replicas = shard_of(own_cluster, key)
        recorder.round_trips.clear()
        assert await runner.read("GET", key, replica=True) == b"r"
        assert await runner.read("GET", key) == b"r"
        (_, on_replica, _), (_, on_primary, _) = recorder.round_trips
        assert on_replica in {("127.0.0.1", r.port) for r in replicas}
        assert on_primary == ("127.0.0.1", primary.port)
    finally:
        await lane.close()


async def test_reads_meant_for_a_replica_out_of_reach_go_to_its_primary(
    own_cluster: LocalRedisCluster,
) -> None:
    own_cluster.wait_healthy()
    lane = _lane(own_cluster, read_from_replicas=True)
    key = "{lane-replica-down}:k"
    try:
        runner = ScriptRunner(lane, ExecutionPolicy(retry_timeout=2.0))
        await runner.run(_SET_AND_GET, [key], ["p"], retry_after_loss=True)
        # The slot map names a replica that nobody answers for (gone since it was read),
        # and keeps naming it: no retry, no new topology, only the fallback can answer.
        assert lane._topology is not None
        lane._topology.replicas[key_slot(key.encode())] = (("127.0.0.1", free_port()),)
        lane.refresh = lambda: None  # type: ignore[method-assign]
        hasty = ScriptRunner(lane, ExecutionPolicy(retry_timeout=0))
        # A batch (IntrospectBatch's path) and one command alike.
        assert await hasty.read_many([("GET", key), ("GET", key)], replica=True) == [b"p", b"p"]
        assert await hasty.read("GET", key, replica=True) == b"p"
    finally:
        await lane.close()


async def test_round_trip_spans_carry_the_database_conventions_and_no_arguments(
    own_cluster: LocalRedisCluster,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    lane = _lane(own_cluster, spans=RedisRoundTrips(provider, processor))
    secret = "secret-argument-value"
    try:
        runner = ScriptRunner(lane, ExecutionPolicy(retry_timeout=2.0))
        await runner.read("SET", "{lane-spans}:k", secret)  # outside any call: no span
        assert exporter.get_finished_spans() == ()
        tracer = provider.get_tracer("test")
        with tracer.start_as_current_span("rpc"):
            await runner.run(_SET_AND_GET, ["{lane-spans}:k"], [secret], retry_after_loss=True)
        spans = [s for s in exporter.get_finished_spans() if s.name != "rpc"]
        script = next(s for s in spans if s.attributes and s.attributes.get("session.redis.script"))
        primary, _ = shard_of(own_cluster, "{lane-spans}:k")
        assert script.attributes is not None
        expected = {
            "db.system": "redis",
            "db.operation.name": "EVALSHA",
            "server.address": "127.0.0.1",
            "server.port": primary.port,
            "session.redis.script": "inline-set",
        }
        assert {name: script.attributes.get(name) for name in expected} == expected
        assert "db.redis.database_index" not in script.attributes  # a cluster has no SELECT
        for span in spans:
            assert span.attributes is not None
            assert secret not in repr(dict(span.attributes)) and "{lane-spans}" not in repr(
                dict(span.attributes)
            )
    finally:
        await lane.close()
        provider.shutdown()


async def test_a_killed_primary_is_replaced_by_its_replica_without_a_restart_of_the_lane(
    own_cluster: LocalRedisCluster, lane: ClusterLane
) -> None:
    key = "{lane-failover}:k"
    runner = ScriptRunner(lane, ExecutionPolicy(retry_timeout=10.0, wait_replicas=1))
    await runner.run(_SET_AND_GET, [key], ["kept"], retry_after_loss=True, durable=True)
    victim, _ = shard_of(own_cluster, key)
    victim.kill()
    try:
        # Reads are safe to repeat: retried until the replica took over and the lane
        # re-read the topology.
        assert await runner.read("GET", key) == b"kept"
        assert lane._topology is not None
        assert lane._topology.primary[key_slot(key.encode())] != ("127.0.0.1", victim.port)
    finally:
        await asyncio.to_thread(victim.start)
        await asyncio.to_thread(own_cluster.wait_healthy)
