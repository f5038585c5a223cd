"""Token checks per second: ``IntrospectBatch`` next to unary ``Introspect``, in one run.

Starts our service (with its private redis-server, both pinned to CPU 0 when the machine
allows; h2load runs on CPU 1) as ``rpc_throughput.py`` does, creates one session per
token for different users (so in a cluster they would spread over slots), and drives with
h2load at the same concurrency:

- ``Introspect``: one access token per call (the unary path, as a backend calls it today);
- ``IntrospectBatch``: ``--batch`` access tokens per call, all seen before (the body is
  sent once before the measured run, and h2load warms up).

Token checks/s is calls/s for the unary path and calls/s times the batch size for the
batch. Every run is checked like ``rpc_throughput.py``'s: the reply before and after must
report every token active with its own session, and the DATA bytes h2load received per
call must match that reply's size (an error has no DATA). A revoked session's token is
then checked to be inactive in the next batch.

Run ``python bench/bulk_introspect.py`` (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from rpc_throughput import (
    CALL_TIMEOUT_S,
    OURS_ARGV,
    BenchmarkError,
    Case,
    Client,
    H2Load,
    Load,
    Measurement,
    Pinning,
    Target,
    _created,
    _expect,
    connected,
    measure,
    our_service_env,
    running_server,
    targets_table,
    unwind_on_sigterm,
)
from session_wire.v1 import session_pb2 as pb


def _all_active(sids: Sequence[str]) -> Callable[[bytes], None]:
    """Checks a batch reply: every token active with its own session, in order."""

    def check(raw: bytes) -> None:
        reply = pb.IntrospectBatchResponse.FromString(raw)
        _expect(len(reply.responses) == len(sids), "IntrospectBatch: not one answer per token")
        for answer, sid in zip(reply.responses, sids, strict=True):
            _expect(
                answer.active and answer.sid == sid, "IntrospectBatch: a token is inactive or out of order"
            )

    return check


def prepare(client: Client, batch: int) -> tuple[Case, Case, list[pb.CreateResponse]]:
    """The unary case (one token) and the batch case (``batch`` tokens of different users)."""
    sessions = [_created(client, f"bench-bulk-{i}") for i in range(batch)]
    first = sessions[0]

    def check_unary(raw: bytes) -> None:
        reply = pb.IntrospectResponse.FromString(raw)
        _expect(reply.active and reply.sid == first.session.session_id, "Introspect: token inactive")

    unary = Case(
        "Introspect",
        pb.IntrospectRequest(token=first.access_token, token_type_hint="access_token").SerializeToString(),
        check_unary,
    )
    body = pb.IntrospectBatchRequest(
        requests=[
            pb.IntrospectRequest(token=s.access_token, token_type_hint="access_token") for s in sessions
        ]
    ).SerializeToString()
    return (
        unary,
        Case("IntrospectBatch", body, _all_active([s.session.session_id for s in sessions])),
        sessions,
    )


def check_revocation_seen(client: Client, sessions: Sequence[pb.CreateResponse]) -> None:
    """After the measured runs: a revoked session is inactive in the very next batch."""
    victim = sessions[len(sessions) // 2]
    client.stub.Revoke(pb.RevokeRequest(session_id=victim.session.session_id), timeout=CALL_TIMEOUT_S)
    request = pb.IntrospectBatchRequest(
        requests=[pb.IntrospectRequest(token=s.access_token) for s in sessions]
    )
    reply = pb.IntrospectBatchResponse.FromString(client.call("IntrospectBatch", request.SerializeToString()))
    active = [answer.active for answer in reply.responses]
    _expect(active == [s is not victim for s in sessions], "IntrospectBatch: a revoked session stayed active")


BATCH_CHECKS_TARGET = 25_000
"""Token checks per second IntrospectBatch is held to on one core."""


def report(unary: Measurement, batched: Measurement, batch: int, pinning: Pinning) -> str:
    """The printed figures."""
    unary_checks = unary.req_per_s
    batch_checks = batched.req_per_s * batch
    where = "server+redis on CPU 0, h2load on CPU 1" if pinning.enabled else "unpinned"
    return "\n".join(
        [
            f"token checks/s ({where}; tokens seen before)",
            f"  Introspect         1 token/call  {unary.req_per_s:7.0f} calls/s {unary_checks:7.0f} checks/s"
            f"  p50 {unary.p50_ms:.2f} ms  p99 {unary.p99_ms:.2f} ms",
            f"  IntrospectBatch {batch:3d} tokens/call {batched.req_per_s:7.0f} calls/s"
            f" {batch_checks:7.0f} checks/s"
            f"  p50 {batched.p50_ms:.2f} ms  p99 {batched.p99_ms:.2f} ms",
            f"  batch / unary: {batch_checks / unary_checks:.1f}x",
            "",
            targets_table(
                [
                    Target(
                        "IntrospectBatch checks/s, tokens seen before, one core",
                        f">= {BATCH_CHECKS_TARGET:,}",
                        f"{batch_checks:,.0f}",
                        f"unary Introspect {unary_checks:,.0f} checks/s",
                        batch_checks >= BATCH_CHECKS_TARGET,
                    ),
                    # The run fails before this point otherwise (revoked_is_inactive).
                    Target("a revoked session inactive in the next batch", "yes", "yes", "-", True),
                ]
            ),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--batch", type=int, default=200, help="tokens per IntrospectBatch call (max 500)")
    parser.add_argument("--requests", type=int, default=4000, help="measured unary calls")
    parser.add_argument("--batch-requests", type=int, default=400, help="measured IntrospectBatch calls")
    parser.add_argument("--clients", type=int, default=2, help="h2load connections (-c)")
    parser.add_argument("--streams", type=int, default=8, help="concurrent streams per connection (-m)")
    args = parser.parse_args(argv)
    pinning = Pinning.detect()
    unwind_on_sigterm()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bulk-introspect-") as raw_tmp,
            contextlib.ExitStack() as stack,
        ):
            tmp = Path(raw_tmp)
            server = stack.enter_context(running_server("ours", OURS_ARGV, our_service_env(), tmp, pinning))
            client = stack.enter_context(connected(server))
            unary_case, batch_case, sessions = prepare(client, args.batch)
            unary = measure(
                client, unary_case, H2Load(Load(args.clients, args.streams, args.requests, 500), pinning, tmp)
            )
            batch_load = Load(args.clients, args.streams, args.batch_requests, max(args.clients, 50))
            batched = measure(client, batch_case, H2Load(batch_load, pinning, tmp))
            check_revocation_seen(client, sessions)
    except BenchmarkError as e:
        print(f"bulk_introspect: FAILED: {e}", file=sys.stderr)
        return 1
    print(report(unary, batched, args.batch, pinning))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
