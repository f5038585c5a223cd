"""The cost of SESSION_REDIS_WAIT_REPLICAS: write RPCs with and without waiting for a replica.

Starts a Redis primary and one replica on loopback, then our service twice against the
primary, with SESSION_REDIS_WAIT_REPLICAS=0 and =1, and drives Create, Refresh (a
grace-window duplicate) and Revoke (of a revoked session) with h2load exactly as
rpc_throughput.py does, with the same checks. After each run the primary's WAIT count
must match the setting, so the wait=1 numbers really include the replica round trip.

Run ``python bench/durability.py``; see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import redis
from rpc_throughput import (
    OURS_ARGV,
    PREPARE,
    BenchmarkError,
    H2Load,
    Load,
    Measurement,
    Pinning,
    _expect,
    _fail,
    connected,
    free_port,
    markdown_table,
    measure,
    our_service_env,
    running_server,
    unwind_on_sigterm,
)

from session_service.store.embedded import RedisServerProcess

RPCS = ("Create", "Refresh", "Revoke")
"""Writes, each followed by WAIT when the service waits for replicas."""
WAITS = (0, 1)
REPLICA_SYNC_TIMEOUT_S = 15.0
HEADERS = (
    "RPC",
    "wait=0 req/s",
    "p50 ms",
    "p99 ms",
    "wait=1 req/s",
    "p50 ms",
    "p99 ms",
    "wait=1/wait=0",
)


@contextlib.contextmanager
def primary_and_replica(pinning: Pinning) -> Iterator[tuple[RedisServerProcess, RedisServerProcess]]:
    """A primary and its replica on free loopback ports, replication up; both stopped by PID."""
    primary = RedisServerProcess("redis-server", free_port())
    replica: RedisServerProcess | None = None
    try:
        primary.start()
        replica = RedisServerProcess(
            "redis-server", free_port(), "--replicaof", "127.0.0.1", str(primary.port)
        )
        replica.start()
        for server in (primary, replica):
            # On the servers' core, like the private redis-server of rpc_throughput.py.
            if pinning.enabled and server.process is not None:
                os.sched_setaffinity(server.process.pid, {0})
        with redis.Redis.from_url(replica.url) as client:
            deadline = time.monotonic() + REPLICA_SYNC_TIMEOUT_S
            while client.info("replication").get("master_link_status") != "up":
                if time.monotonic() > deadline:
                    _fail(f"the replica did not sync within {REPLICA_SYNC_TIMEOUT_S:.0f}s")
                time.sleep(0.05)
        yield primary, replica
    finally:
        if replica is not None:
            replica.stop()
        primary.stop()


def _wait_calls(primary: redis.Redis) -> int:
    stats = primary.info("commandstats").get("cmdstat_wait")
    return int(stats["calls"]) if stats else 0


def run(load: Load, pinning: Pinning, tmp: Path) -> dict[str, dict[int, Measurement]]:
    """Measures every RPC against a service with each WAIT setting; results[rpc][wait].

    Both services run at once and each RPC is measured on one, then the other, so drift in
    the machine's load affects both settings alike.
    """
    h2load = H2Load(load, pinning, tmp)
    results: dict[str, dict[int, Measurement]] = {rpc: {} for rpc in RPCS}
    with contextlib.ExitStack() as stack:
        primary, _ = stack.enter_context(primary_and_replica(pinning))
        admin = stack.enter_context(redis.Redis.from_url(primary.url))
        clients = {}
        for wait in WAITS:
            env = our_service_env()
            env["SESSION_REDIS_URL"] = primary.url
            env["SESSION_DEV"] = "true"  # a throwaway signing key is fine for a benchmark
            env["SESSION_REDIS_WAIT_REPLICAS"] = str(wait)
            server = stack.enter_context(running_server(f"wait{wait}", OURS_ARGV, env, tmp, pinning))
            clients[wait] = stack.enter_context(connected(server))
        for rpc in RPCS:
            for wait, client in clients.items():
                # Prepared right before its run, so the Refresh grace window starts just then.
                case = PREPARE[rpc](client)
                admin.config_resetstat()
                results[rpc][wait] = measure(client, case, h2load)
                waits, sent = _wait_calls(admin), load.warmup + load.requests
                # wait=1 also WAITs for the check calls around the run.
                ok = waits >= sent if wait else waits == 0
                _expect(ok, f"{rpc} wait={wait}: {sent} calls sent, Redis ran WAIT {waits} times")
                print(f"{rpc} wait={wait}: {results[rpc][wait].req_per_s:.0f} req/s", file=sys.stderr)
    return results


def table(results: dict[str, dict[int, Measurement]]) -> str:
    """The results as a Markdown table."""
    cells = []
    for rpc, by_wait in results.items():
        row = [rpc]
        for wait in WAITS:
            m = by_wait[wait]
            row += [f"{m.req_per_s:.0f}", f"{m.p50_ms:.1f}", f"{m.p99_ms:.1f}"]
        row.append(f"{by_wait[1].req_per_s / by_wait[0].req_per_s:.2f}")
        cells.append(row)
    return markdown_table(HEADERS, cells)


def _parse(argv: Sequence[str] | None) -> Load:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="measured calls per RPC and setting")
    parser.add_argument("--warmup", type=int, default=500, help="unmeasured calls before each run")
    parser.add_argument("--clients", type=int, default=8, help="h2load connections (-c)")
    parser.add_argument("--streams", type=int, default=16, help="concurrent streams per connection (-m)")
    args = parser.parse_args(argv)
    if (
        min(args.clients, args.streams) < 1
        or args.requests < max(args.clients, 2)
        or args.warmup < args.clients
    ):
        parser.error("--clients and --streams must be positive, --requests and --warmup at least --clients")
    return Load(args.clients, args.streams, args.requests, args.warmup)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    load = _parse(argv)
    if shutil.which("h2load") is None or shutil.which("redis-server") is None:
        print("durability: needs h2load (nghttp2-client) and redis-server", file=sys.stderr)
        return 2
    pinning = Pinning.detect()
    unwind_on_sigterm()
    try:
        with tempfile.TemporaryDirectory(prefix="durability-") as tmp:
            results = run(load, pinning, Path(tmp))
    except BenchmarkError as e:
        print(f"durability: FAILED: {e}", file=sys.stderr)
        return 1
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
