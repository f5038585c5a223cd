"""Gateway checks per second: HTTP forward-auth and Envoy ``Check`` next to ``Introspect``.

Starts our service (with its private redis-server and forward-auth on a free port) once
per gateway mode, creates a session, and drives with h2load, in the same run and with the
same number of requests in flight:

- ``Introspect`` (gRPC over h2c): the authoritative RPC a backend would otherwise call;
- ``Check`` (gRPC over h2c), Envoy's external authorization;
- ``/auth`` (HTTP/1.1, as nginx, Traefik and Caddy call it), forward-auth.

Every run is checked, since h2load counts any HTTP 200 as a success: each request is sent
once before and once after with a normal client and must be allowed with the session's
identity; forward-auth calls must all be HTTP 200 (a refusal is 401); and the DATA bytes
h2load received per gRPC call must match the allowed reply's size (a denied ``Check`` is
larger, an error has no DATA).

Run ``python bench/gateway_throughput.py`` (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import grpc
from rpc_throughput import (
    BENCH_DIR,
    GRPC_FRAME_HEADER,
    HOST,
    OURS_ARGV,
    REPLY_BYTES_TOLERANCE,
    BenchmarkError,
    Measurement,
    Pinning,
    Server,
    _expect,
    _fail,
    _from_log,
    free_port,
    markdown_table,
    our_service_env,
    run_load_tool,
    running_server,
    unwind_on_sigterm,
)
from session_wire.ext_authz import attribute_context_pb2, external_auth_pb2
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

MODES = ("local", "authoritative")
CALL_TIMEOUT_S = 5.0
_DATA = re.compile(r"traffic: .*?\((\d+)\) data")


@dataclass(frozen=True)
class Door:
    """One way to ask "whose request is this?", as h2load drives it."""

    name: str
    """As printed."""
    path: str
    """URL path h2load requests."""
    http1: bool
    """HTTP/1.1 (forward-auth) rather than gRPC over h2c."""
    body: bytes = b""
    """The serialized gRPC request (gRPC doors)."""
    headers: tuple[str, ...] = ()
    """Extra request headers (forward-auth: the bearer token)."""
    reply_bytes: int = 0
    """Size of the checked gRPC reply, framing included."""


@dataclass(frozen=True)
class Row:
    """One door measured on one server."""

    door: str
    mode: str
    numbers: Measurement


def _grpc_call(server: Server, path: str, body: bytes) -> bytes:
    with grpc.insecure_channel(server.target) as channel:
        method: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(path)
        try:
            return method(body, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as e:
            _fail(f"{path} did not return OK: {e}")


def _forward_auth(port: int, token: str) -> tuple[int, str]:
    request = urllib.request.Request(
        f"http://{HOST}:{port}/auth", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=CALL_TIMEOUT_S) as response:  # noqa: S310
            return response.status, response.headers.get("x-user-id", "")
    except urllib.error.HTTPError as e:
        return e.code, ""


def prepare(server: Server, forward_auth_port: int) -> tuple[list[Door], Callable[[], object]]:
    """A session, the three doors' requests for its token, and the check that they are allowed."""
    with grpc.insecure_channel(server.target) as channel:
        created = session_pb2_grpc.SessionServiceStub(channel).Create(
            pb.CreateRequest(user_id="bench-user", scopes=["read", "write"], client_id="web"),
            timeout=CALL_TIMEOUT_S,
        )
    token = created.access_token
    introspect = pb.IntrospectRequest(token=token).SerializeToString()
    http = attribute_context_pb2.AttributeContext.HttpRequest(
        method="GET", path="/orders", host="shop.example", headers={"authorization": f"Bearer {token}"}
    )
    check = external_auth_pb2.CheckRequest(
        attributes=attribute_context_pb2.AttributeContext(
            request=attribute_context_pb2.AttributeContext.Request(http=http)
        )
    ).SerializeToString()

    def verify() -> Sequence[int]:
        reply = pb.IntrospectResponse.FromString(
            _grpc_call(server, "/session.v1.SessionService/Introspect", introspect)
        )
        _expect(reply.active and reply.sub == "bench-user", "Introspect: the token is not active")
        raw = _grpc_call(server, "/envoy.service.auth.v3.Authorization/Check", check)
        answer = external_auth_pb2.CheckResponse.FromString(raw)
        allowed = answer.status.code == 0 and any(
            o.header.key == "x-user-id" and o.header.value == "bench-user" for o in answer.ok_response.headers
        )
        _expect(allowed, "Check: the token is not allowed")
        status, user = _forward_auth(forward_auth_port, token)
        _expect((status, user) == (200, "bench-user"), f"forward-auth answered {status} {user!r}")
        return [len(reply.SerializeToString()), len(raw)]

    sizes = verify()
    doors = [
        Door(
            "Introspect (gRPC)",
            "/session.v1.SessionService/Introspect",
            False,
            introspect,
            reply_bytes=GRPC_FRAME_HEADER + sizes[0],
        ),
        Door(
            "Envoy Check (gRPC)",
            "/envoy.service.auth.v3.Authorization/Check",
            False,
            check,
            reply_bytes=GRPC_FRAME_HEADER + sizes[1],
        ),
        Door("forward-auth (HTTP/1.1)", "/auth", True, headers=(f"authorization: Bearer {token}",)),
    ]
    return doors, verify


def h2load(
    port: int, door: Door, requests: int, in_flight: int, pinning: Pinning, tmp: Path, log: Path | None
) -> str:
    """One h2load run against a door; its summary."""
    if door.http1:
        shape = ["--h1", "-c", str(in_flight), "-m", "1"]
        extra: list[str] = []
    else:
        body = tmp / f"{door.path.rsplit('/', 1)[1]}.bin"
        body.write_bytes(b"\0" + len(door.body).to_bytes(4, "big") + door.body)
        streams = min(16, in_flight)
        shape = ["-c", str(max(1, in_flight // streams)), "-m", str(streams)]
        extra = ["-d", str(body), "-H", "content-type: application/grpc", "-H", "te: trailers"]
    argv = [
        *pinning.load,
        "h2load",
        *shape,
        "-t",
        "1",
        "-n",
        str(requests),
        *extra,
        *(arg for h in door.headers for arg in ("-H", h)),
        *(["--log-file", str(log)] if log is not None else []),
        f"http://{HOST}:{port}{door.path}",
    ]
    return run_load_tool(argv, f"h2load {door.name}")


def measure_door(
    server: Server,
    forward_auth_port: int,
    door: Door,
    args: argparse.Namespace,
    pinning: Pinning,
    tmp: Path,
    verify: Callable[[], object],
) -> Measurement:
    """Warms up, measures, and checks that every call was an allowed one."""
    port = forward_auth_port if door.http1 else server.port
    if args.warmup:
        h2load(port, door, args.warmup, args.in_flight, pinning, tmp, None)
    log = tmp / f"{server.name}-{door.path.rsplit('/', 1)[1]}.log"
    log.unlink(missing_ok=True)  # h2load appends
    summary = h2load(port, door, args.requests, args.in_flight, pinning, tmp, log)
    verify()
    per_call = 0.0
    if not door.http1:
        found = _DATA.search(summary)
        _expect(found is not None, f"{door.name}: cannot read h2load's summary:\n{summary}")
        assert found is not None
        per_call = int(found.group(1)) / args.requests
        _expect(
            abs(per_call - door.reply_bytes) <= (1 - REPLY_BYTES_TOLERANCE) * door.reply_bytes,
            f"{door.name}: {per_call:.1f} DATA bytes per call, the allowed reply has {door.reply_bytes}",
        )
    # _from_log also fails on any HTTP status but 200: a refused forward-auth call is 401.
    return _from_log(log, args.requests, per_call)


@contextlib.contextmanager
def service(mode: str, pinning: Pinning, tmp: Path) -> Iterator[tuple[Server, int]]:
    """Our service in ``mode`` with forward-auth on a free port."""
    forward_auth_port = free_port()
    env = our_service_env() | {
        "SESSION_FORWARD_AUTH_PORT": str(forward_auth_port),
        "SESSION_GATEWAY_MODE": mode,
    }
    with running_server(f"ours-{mode}", OURS_ARGV, env, tmp, pinning) as server:
        yield server, forward_auth_port


def run(args: argparse.Namespace, pinning: Pinning, tmp: Path) -> list[Row]:
    """Measures the doors on a service per mode (Introspect does not depend on the mode: once)."""
    rows: list[Row] = []
    for mode in args.mode or MODES:
        with service(mode, pinning, tmp) as (server, forward_auth_port):
            doors, verify = prepare(server, forward_auth_port)
            for door in doors:
                if door.name.startswith("Introspect") and rows:
                    continue
                numbers = measure_door(server, forward_auth_port, door, args, pinning, tmp, verify)
                label = "-" if door.name.startswith("Introspect") else mode
                rows.append(Row(door.name, label, numbers))
                print(f"{door.name} [{label}]: {numbers.req_per_s:.0f} req/s", file=sys.stderr)
    return rows


def table(rows: Sequence[Row]) -> str:
    """The results as a Markdown table."""
    headers = ["door", "gateway mode", "checks/s", "p50 ms", "p99 ms"]
    cells = [
        [r.door, r.mode, f"{r.numbers.req_per_s:.0f}", f"{r.numbers.p50_ms:.1f}", f"{r.numbers.p99_ms:.1f}"]
        for r in rows
    ]
    return markdown_table(headers, cells)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="measured calls per door and mode")
    parser.add_argument("--warmup", type=int, default=500, help="unmeasured calls before each run")
    parser.add_argument("--in-flight", type=int, default=64, help="requests in flight (all doors)")
    parser.add_argument("--mode", action="append", choices=MODES, help="gateway mode(s) (default both)")
    parser.add_argument("--json", type=Path, default=BENCH_DIR / "results" / "gateway_throughput.json")
    args = parser.parse_args(argv)
    if args.requests < args.in_flight or (args.warmup and args.warmup < args.in_flight):
        parser.error("--requests and a non-zero --warmup must be at least --in-flight")
    if shutil.which("h2load") is None:
        print("gateway_throughput: h2load not found; install nghttp2-client", file=sys.stderr)
        return 2
    pinning = Pinning.detect()
    unwind_on_sigterm()
    try:
        with tempfile.TemporaryDirectory(prefix="gateway-throughput-") as tmp:
            rows = run(args, pinning, Path(tmp))
    except BenchmarkError as e:
        print(f"gateway_throughput: FAILED: {e}", file=sys.stderr)
        return 1
    print(table(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    results = {
        "in_flight": args.in_flight,
        "requests": args.requests,
        "pinned": pinning.enabled,
        "results": [{"door": r.door, "mode": r.mode, **asdict(r.numbers)} for r in rows],
    }
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
