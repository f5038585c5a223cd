"""Where each RPC's CPU time goes, next to the one-script anchor of rpc_throughput.py.

On one topology (a real 6-node Redis Cluster it starts on loopback, or a single Redis), four
servers answer the same request bodies while h2load drives them, and the CPU time each
spends per call is read from /proc: the server process, and every Redis process (the cluster's
nodes, or the server's private redis-server), which share the server's core when pinned.

- ``empty``: ``empty_server.py``, handlers that return at once: gRPC alone.
- ``lane``: ``empty_server.py --one-script --client lane``: gRPC and one EVALSHA through our
  service's own lane (``session_service/store/lane.py``).
- ``anchor``: ``empty_server.py --one-script``: gRPC and one EVALSHA through redis-py, the
  anchor issue 23's targets are ratios to.
- ``ours``: the service, tracing off.

``ours - lane`` is then what the RPC itself costs beyond one bare round trip through the same
lane: its validation, tokens, audit line, decoding, reply, and any further round trip. When
the core is the limit, req/s is inversely proportional to the CPU time per call (server and
Redis together), so each row also gives the CPU time per call a throughput target needs.

Run ``python bench/cost_breakdown.py`` (``--topology standalone`` for a single Redis,
``--rpc Get`` for some RPCs only); see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import rpc_throughput as rt

TARGET_RPCS = tuple(rt.TRACING_TARGETS)
"""The RPCs with a throughput target (issue 23's ratios to the anchor at 10 % tracing),
which the table sets against tracing off."""


@dataclass(frozen=True)
class Cost:
    """CPU time per call of one server on one RPC, and the throughput it reached."""

    server_us: float
    redis_us: float
    req_per_s: float

    @property
    def total_us(self) -> float:
        """Server and Redis together: what one core spends per call."""
        return self.server_us + self.redis_us


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured_cost(client: rt.Client, case: rt.Case, h2load: rt.H2Load, redis_pids: Sequence[int]) -> Cost:
    """Drives ``case`` as rpc_throughput.measure does (replies checked), reading the CPU time
    the server and the Redis processes spent meanwhile."""
    pids = list(redis_pids)
    server_pid = client.server.process.pid
    server_before, redis_before = cpu_seconds(server_pid), sum(cpu_seconds(p) for p in pids)
    measured = rt.measure(client, case, h2load)
    server_after, redis_after = cpu_seconds(server_pid), sum(cpu_seconds(p) for p in pids)
    # The two checking calls measure makes around the run are within the rounding.
    calls = measured.requests + h2load.load.warmup
    return Cost(
        server_us=round((server_after - server_before) / calls * 1e6, 1),
        redis_us=round((redis_after - redis_before) / calls * 1e6, 1),
        req_per_s=measured.req_per_s,
    )


def anchor_argv(extra: Sequence[str]) -> list[str]:
    """empty_server.py with ``extra`` arguments."""
    return [sys.executable, str(rt.BENCH_DIR / "empty_server.py"), "--host", rt.HOST, *extra]


@contextlib.contextmanager
def topology(kind: str, pinning: rt.Pinning) -> Iterator[tuple[list[str], dict[str, str], Any]]:
    """The empty server's Redis arguments, our service's environment and the cluster (None
    for a single Redis, where each server starts its own private redis-server)."""
    if kind == "standalone":
        yield [], rt.our_service_env(), None
        return
    with rt.bench_cluster(pinning) as cluster:
        yield (
            ["--redis-url", cluster.url, "--redis-mode", "cluster"],
            rt.our_service_env() | rt.cluster_env(cluster),
            cluster,
        )


def run(
    kind: str, rpcs: Sequence[str], load: rt.Load, pinning: rt.Pinning, tmp: Path
) -> dict[str, dict[str, Cost]]:
    """The four servers' cost per call of each RPC, on the ``kind`` topology."""
    h2load = rt.H2Load(load, pinning, tmp)
    costs: dict[str, dict[str, Cost]] = {rpc: {} for rpc in rpcs}
    with topology(kind, pinning) as (redis_args, env, cluster), contextlib.ExitStack() as stack:
        argv_and_env = {
            "empty": (anchor_argv([]), dict(os.environ)),
            "lane": (anchor_argv(["--one-script", "--client", "lane", *redis_args]), dict(os.environ)),
            "anchor": (anchor_argv(["--one-script", *redis_args]), dict(os.environ)),
            "ours": (list(rt.OURS_ARGV), env | {"SESSION_REDIS_PREFIX": "cb"}),
        }
        servers = {
            name: stack.enter_context(rt.running_server(name, argv, server_env, tmp, pinning))
            for name, (argv, server_env) in argv_and_env.items()
        }
        clients = {name: stack.enter_context(rt.connected(server)) for name, server in servers.items()}
        for rpc in rpcs:
            case = rt.PREPARE[rpc](clients["ours"])
            for name, client in clients.items():
                # The cluster's nodes, or the server's own private redis-server.
                redis_pids = (
                    [n.process.pid for n in cluster.nodes if n.process is not None]
                    if cluster is not None
                    else list(client.server.redis_pids)
                )
                body = case if name == "ours" else rt.baseline_case(case)
                costs[rpc][name] = measured_cost(client, body, h2load, redis_pids)
            print(
                f"{kind} {rpc}: "
                + ", ".join(f"{n} {c.server_us:.0f}+{c.redis_us:.0f} µs" for n, c in costs[rpc].items()),
                file=sys.stderr,
            )
    return costs


def table(kind: str, costs: dict[str, dict[str, Cost]]) -> str:
    """The markdown table of one topology: µs per call as server + Redis, and what the
    target needs."""
    headers = [
        "RPC",
        "empty (gRPC)",
        "lane (+1 EVALSHA)",
        "anchor (redis-py)",
        "ours",
        "ours - lane",
        "ours ÷ anchor, req/s",
        "ours needs for its target",
    ]
    rows = []
    for rpc, by in costs.items():
        empty, lane, anchor, ours = by["empty"], by["lane"], by["anchor"], by["ours"]
        target = rt.TRACING_TARGETS.get(rpc)
        needed = (
            f"≤ {anchor.total_us / target:.0f} (at {target:g}); now {ours.total_us:.0f}" if target else "—"
        )
        rows.append(
            [
                rpc,
                *(f"{c.server_us:.0f} + {c.redis_us:.0f}" for c in (empty, lane, anchor, ours)),
                f"{ours.total_us - lane.total_us:+.0f}",
                f"{ours.req_per_s / anchor.req_per_s:.2f}",
                needed,
            ]
        )
    return f"### {kind}: CPU µs per call (server + Redis)\n\n" + rt.markdown_table(headers, rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--topology", choices=("cluster", "standalone", "both"), default="cluster")
    parser.add_argument(
        "--rpc", action="append", choices=TARGET_RPCS, help="an RPC to measure (repeatable; all by default)"
    )
    parser.add_argument(
        "--requests", type=rt.positive, default=10_000, help="measured calls per RPC and server"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if shutil.which("h2load") is None:
        print("cost_breakdown: h2load not found; install nghttp2-client", file=sys.stderr)
        return 2
    pinning = rt.Pinning.detect()
    if not pinning.enabled:
        print("cost_breakdown: no taskset or fewer than 2 CPUs; running unpinned", file=sys.stderr)
    rt.unwind_on_sigterm()
    load = rt.Load(clients=8, streams=16, requests=args.requests, warmup=min(2_000, args.requests))
    kinds = ("standalone", "cluster") if args.topology == "both" else (args.topology,)
    found: dict[str, dict[str, dict[str, Cost]]] = {}
    with tempfile.TemporaryDirectory(prefix="cost-breakdown-") as tmp:
        for kind in kinds:
            found[kind] = run(kind, args.rpc or TARGET_RPCS, load, pinning, Path(tmp))
    shape = f"h2load -c {load.clients} -m {load.streams} -n {load.requests}"
    print(f"pinned: {'yes' if pinning.enabled else 'no'}; {shape}\n")
    for kind, costs in found.items():
        print(table(kind, costs) + "\n")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    k: {r: {n: asdict(c) for n, c in by.items()} for r, by in v.items()}
                    for k, v in found.items()
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (rt.BenchmarkError, OSError) as e:
        print(f"cost_breakdown: {e}", file=sys.stderr)
        sys.exit(1)
