"""A longer wire-level fuzzing run than the test suite's: mutated protobuf bytes at every RPC
of a real service (embedded Redis), counting statuses; exits 1 on any INTERNAL or UNKNOWN.

    python bench/fuzz_wire.py --cases 20000 --seed 7 --seconds 120
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from session_service.app import start
from session_service.config import Settings
from tests.wire_fuzz import BAD, cases, send


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--seconds", type=float, default=120.0, help="stop after this long in any case")
    args = parser.parse_args()
    service = await start(Settings(host="127.0.0.1", port=0, metrics_port=0))
    counts: Counter[str] = Counter()
    bad = 0
    stop_at = time.monotonic() + args.seconds
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            all_cases = list(cases(random.Random(args.seed), args.cases))
            for start_at in range(0, len(all_cases), 50):  # 50 calls at once, the last batch too
                batch = all_cases[start_at : start_at + 50]
                for code in await asyncio.gather(*(send(channel, m, b) for m, b in batch)):
                    counts[code.name] += 1
                    bad += code in BAD
                if time.monotonic() > stop_at:
                    break
    finally:
        await service.stop(grace=0)
    print(f"seed {args.seed}: {sum(counts.values())} cases, statuses {dict(counts.most_common())}")
    print("INTERNAL/UNKNOWN:", bad)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
