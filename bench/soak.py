"""A bounded soak: minutes of mixed load plus a Create flood for one user and a flood from
one caller, against the service with its default limits and a private Redis.

Prints, at the start and at the end: Redis used memory against its computed bound, p99 of
the mixed load, and how the floods were answered (created, capped, RATE_LIMITED). Exits 1
when memory passes the bound or a call fails INTERNAL/UNKNOWN.

    python bench/soak.py --seconds 180
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from redis.asyncio import Redis

if TYPE_CHECKING:
    from session_wire.v1.session_pb2_grpc import SessionServiceAsyncStub

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

from session_service.app import Service, start
from session_service.config import Settings

USERS = 200
FLOOD_USER = "flooder"
# Generous per-session allowance: a typical session with rotation memory and index entry
# takes under 1 KB (docs/benchmarks.md); this allows four times that.
BYTES_PER_SESSION = 4096


class Load:
    """Mixed calls of many users, recording latency and statuses."""

    def __init__(self, stub: SessionServiceAsyncStub) -> None:
        self.stub = stub
        self.latencies: list[float] = []
        self.codes: Counter[str] = Counter()
        # Per user: (session id, refresh token, access token) of the sessions it holds.
        self.live: dict[str, list[tuple[str, str, str]]] = {}

    async def one(self, rng: random.Random) -> None:
        user = f"user{rng.randrange(USERS)}"
        mine = self.live.setdefault(user, [])
        op = rng.random()
        started = time.perf_counter()
        try:
            if not mine or op < 0.2:
                c = await self.stub.Create(pb.CreateRequest(user_id=user, data={"k": b"v" * 100}))
                mine.append((c.session.session_id, c.refresh_token, c.access_token))
            elif op < 0.6:
                await self.stub.Get(pb.GetRequest(session_id=rng.choice(mine)[0]))
            elif op < 0.8:
                sid, refresh, _ = mine.pop(rng.randrange(len(mine)))
                r = await self.stub.Refresh(pb.RefreshRequest(refresh_token=refresh))
                mine.append((sid, r.refresh_token, r.access_token))
            elif op < 0.9:
                await self.stub.Introspect(pb.IntrospectRequest(token=rng.choice(mine)[2]))
            else:
                sid, _, _ = mine.pop(rng.randrange(len(mine)))
                await self.stub.Revoke(pb.RevokeRequest(session_id=sid))
            self.codes["OK"] += 1
        except grpc.aio.AioRpcError as e:
            self.codes[e.code().name] += 1
        self.latencies.append(time.perf_counter() - started)

    def p99_ms(self) -> float:
        return statistics.quantiles(self.latencies, n=100)[98] * 1000 if len(self.latencies) > 100 else 0.0


def _report(when: str, p99_ms: float, memory: int, bound: int) -> None:
    used, limit = memory / 1e6, bound / 1e6
    print(f"{when:>5}: p99 {p99_ms:.1f} ms, Redis used memory {used:.1f} MB (bound {limit:.1f} MB)")


async def _memory(redis: Redis) -> int:
    return int((await redis.info("memory"))["used_memory"])


async def run(seconds: float) -> int:
    settings = Settings(host="127.0.0.1", port=0, metrics_port=0)
    service: Service = await start(settings)
    redis = Redis.from_url(service.embedded_redis.url if service.embedded_redis else settings.redis_url)
    baseline = await _memory(redis)
    # Every user (the flooder included) holds at most max_sessions_per_user sessions.
    bound = baseline + (USERS + 1) * settings.max_sessions_per_user * BYTES_PER_SESSION + 2_000_000
    rng = random.Random(1)
    flood: Counter[str] = Counter()
    failed = False
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            stub: SessionServiceAsyncStub = session_pb2_grpc.SessionServiceStub(channel)
            load = Load(stub)

            async def flood_user() -> None:
                while time.monotonic() < stop_at:
                    try:
                        await stub.Create(pb.CreateRequest(user_id=FLOOD_USER, data={"pad": b"x" * 512}))
                        flood["created"] += 1
                    except grpc.aio.AioRpcError as e:
                        flood[e.code().name] += 1

            async def mixed() -> None:
                while time.monotonic() < stop_at:
                    await load.one(rng)

            stop_at = time.monotonic() + min(20.0, seconds / 4)
            await asyncio.gather(*(mixed() for _ in range(16)))
            start_memory = await _memory(redis)
            _report("start", load.p99_ms(), start_memory, bound)
            load.latencies.clear()
            stop_at = time.monotonic() + seconds
            await asyncio.gather(*(mixed() for _ in range(16)), *(flood_user() for _ in range(4)))
            end_memory = await _memory(redis)
            flood_count = len((await stub.List(pb.ListRequest(user_id=FLOOD_USER, page_size=1000))).sessions)
            _report("end", load.p99_ms(), end_memory, bound)
            print(f"mixed load statuses: {dict(load.codes)}")
            print(
                f"Create flood for one user: {dict(flood)}; sessions it holds: {flood_count} "
                f"(cap {settings.max_sessions_per_user})"
            )
            failed = (
                end_memory > bound
                or flood_count > settings.max_sessions_per_user
                or bool({"INTERNAL", "UNKNOWN"} & (load.codes.keys() | flood.keys()))
            )
    finally:
        await redis.aclose()
        await service.stop(grace=0)
    print("FAIL" if failed else "OK: memory within its bound, floods refused or capped, no INTERNAL")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the soak after warm-up")
    return asyncio.run(run(parser.parse_args().seconds))


if __name__ == "__main__":
    raise SystemExit(main())
