"""Latency at a fixed rate under open-loop Poisson arrivals: many independent callers.

Sends one fixed request body to one unary RPC at ``--rate`` calls per second on average,
each call started at its scheduled time whether or not earlier calls have answered, with
exponential gaps between the scheduled times (the arrivals of many independent callers).
Each call's latency runs from its scheduled time, not from when this client got round to
sending it, so a client that falls behind makes the figures worse, never better.

Every reply must be OK and at least ``--min-reply-bytes`` long, or the run fails. Prints one
JSON object: calls, errors, achieved rate, p50/p99/p99.9 in ms, and how late the sender
ever was. ``rpc_throughput.py`` runs it pinned to the load CPU, next to the servers it
measures (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence

import grpc

CHANNELS = 4
"""Connections the calls are spread over (callers are many processes, not one stream)."""


async def _drive(
    target: str, method: str, body: bytes, min_reply_bytes: int, rate: float, seconds: float, warmup: float
) -> dict[str, float]:
    channels = [grpc.aio.insecure_channel(target) for _ in range(CHANNELS)]
    # No serializers: the body goes out as it is, and replies come back as bytes.
    calls: list[grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]] = [
        channel.unary_unary(method) for channel in channels
    ]
    latencies: list[float] = []
    errors: list[str] = []
    late = 0.0

    async def one(n: int, scheduled: float, measured: bool) -> None:
        try:
            reply = await calls[n % CHANNELS](body, timeout=10)
        except grpc.RpcError as e:
            errors.append(f"{e.code().name}: {e.details()}" if isinstance(e, grpc.Call) else str(e))
            return
        if len(reply) < min_reply_bytes:
            errors.append(f"a reply of {len(reply)} bytes, expected at least {min_reply_bytes}")
        elif measured:
            latencies.append(time.perf_counter() - scheduled)

    try:
        for call in calls:
            await call(body, timeout=10)  # connected before anything is timed
        pending: set[asyncio.Task[None]] = set()
        # This client's own garbage collections would stall its event loop and show up as
        # server latency: none during the run (it is bounded, so its garbage is too).
        gc.disable()
        start = time.perf_counter()
        scheduled, n = start, 0
        while scheduled - start < warmup + seconds:
            scheduled += random.expovariate(rate)
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late = max(late, -delay)
            task = asyncio.ensure_future(one(n, scheduled, scheduled - start >= warmup))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += 1
        measured_s = time.perf_counter() - start - warmup
        await asyncio.gather(*pending)
    finally:
        gc.enable()
        for channel in channels:
            await channel.close()
    if errors:
        raise SystemExit(f"{len(errors)} of {n} calls failed, e.g. {errors[0]}")
    percentiles = statistics.quantiles(latencies, n=1000, method="inclusive")
    return {
        "calls": len(latencies),
        "errors": 0,
        "seconds": round(measured_s, 3),
        "req_per_s": round(len(latencies) / measured_s, 1),
        "p50_ms": round(percentiles[499] * 1000, 2),
        "p99_ms": round(percentiles[989] * 1000, 2),
        "p999_ms": round(percentiles[998] * 1000, 2),
        "max_send_late_ms": round(late * 1000, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; prints the JSON result."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--target", required=True, help="host:port")
    parser.add_argument("--method", required=True, help="full method name, /package.Service/Rpc")
    parser.add_argument("--body-hex", required=True, help="the serialized request, hex")
    parser.add_argument("--min-reply-bytes", type=int, required=True, help="the least size of a right reply")
    parser.add_argument("--rate", type=float, required=True, help="calls per second, on average")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of unmeasured calls first")
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(
        _drive(
            args.target,
            args.method,
            bytes.fromhex(args.body_hex),
            args.min_reply_bytes,
            args.rate,
            args.seconds,
            args.warmup,
        )
    )
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
