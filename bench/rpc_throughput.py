"""Unary RPC throughput and latency of session-service, next to an empty grpc.aio server.

Starts our service (with its private redis-server) and ``empty_server.py`` as subprocesses on
free loopback ports, prepares one realistic request body per RPC with a normal gRPC client,
checks that body answers OK, drives it with h2load, then reads req/s, p50 and p99 from
h2load's per-request log. The empty server runs the same RPCs with handlers that return at
once, so ``ours / baseline`` is the share of grpc.aio's own ceiling our service reaches.

h2load counts every HTTP 200 as a success, even one carrying a non-zero grpc-status. So each
run is also checked: the body once before; afterwards one more call; the DATA bytes h2load
received (a gRPC error arrives as trailers only, without DATA); and, for Update, that the
session's version rose by exactly the number of calls sent.

``--topology cluster`` (or ``both``) measures ours and the one-script anchor on a real
6-node Redis Cluster it starts on loopback; ``--tracing RATIO`` also measures ours with
tracing on (``parentbased_traceidratio`` at RATIO, OTLP to ``span_sink.py``). Each topology
then gets its table of req/s ÷ anchor per tracing mode, with the targets next to them, and
Redis memory per session by ``MEMORY USAGE`` and by ``used_memory`` growth.

Run ``python bench/rpc_throughput.py --requests N`` (or ``make bench``); see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn

import grpc
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

BENCH_DIR = Path(__file__).resolve().parent
SERVICE = "session.v1.SessionService"
HOST = "127.0.0.1"

CALL_TIMEOUT_S = 5.0
"""Deadline of each call the benchmark makes itself (setup and checks)."""
START_TIMEOUT_S = 30.0
"""How long a server may take to answer its first call."""
STOP_TIMEOUT_S = 15.0
"""How long a server may take to exit after SIGTERM before it is killed."""
H2LOAD_TIMEOUT_S = 300.0
"""Upper bound of one h2load run, so a stuck server cannot hang the benchmark."""
REFRESH_GRACE_S = 300
"""Our service's refresh grace window: every repeat of one Refresh body is a duplicate within it."""
REPLY_BYTES_TOLERANCE = 0.95
"""A run fails when its mean DATA bytes per call fall below this share of the checked reply's."""
GRPC_FRAME_HEADER = 5
"""Bytes before each gRPC message: a compressed flag and a 4-byte big-endian length."""


class BenchmarkError(Exception):
    """The benchmark could not produce a trustworthy number."""


def _fail(message: str) -> NoReturn:
    raise BenchmarkError(message)


def _expect(condition: bool, message: str) -> None:
    if not condition:
        _fail(message)


# --- servers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pinning:
    """CPU pinning commands: the servers on one core, h2load on another, when the machine allows."""

    server: tuple[str, ...]
    load: tuple[str, ...]

    @property
    def enabled(self) -> bool:
        """True when the servers and h2load run on separate cores."""
        return bool(self.server)

    def pin_server_side(self, pid: int) -> None:
        """Moves a running process (every thread of it) to the servers' CPU, when pinning."""
        if self.server:
            cpu = self.server[-1]
            subprocess.run([self.server[0], "-a", "-p", "-c", cpu, str(pid)], check=True, capture_output=True)

    @classmethod
    def detect(cls) -> Pinning:
        """CPU 0 for the servers and CPU 1 for h2load, or no pinning without taskset or two CPUs."""
        taskset = shutil.which("taskset")
        if taskset is None or not {0, 1} <= os.sched_getaffinity(0):
            return cls((), ())
        return cls((taskset, "-c", "0"), (taskset, "-c", "1"))


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    """The PIDs of a process's direct children (Linux /proc), empty where that is unavailable."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _is_redis_server(pid: int) -> bool:
    try:
        return b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Server:
    """A server subprocess the benchmark started, and the port it listens on."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    redis_pids: tuple[int, ...] = ()

    @property
    def target(self) -> str:
        """host:port for a gRPC channel."""
        return f"{HOST}:{self.port}"

    def stop(self) -> None:
        """SIGTERM by PID, then SIGKILL if it does not exit; also any redis-server it left behind."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # Our service stops its private redis-server on SIGTERM; this covers a service that died
        # without doing so (the PIDs were read while the service ran).
        for pid in self.redis_pids:
            if _is_redis_server(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)


@contextlib.contextmanager
def running_server(
    name: str, argv: Sequence[str], env: dict[str, str], log_dir: Path, pinning: Pinning
) -> Iterator[Server]:
    """Starts ``argv --port P`` on a free port, waits until it answers GetJwks, stops it on exit."""
    port = free_port()
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*pinning.server, *argv, "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(name, process, port, log_path)
    try:
        _wait_until_serving(server)
        server.redis_pids = tuple(pid for pid in _children(process.pid) if _is_redis_server(pid))
        yield server
    finally:
        server.stop()


def _wait_until_serving(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with grpc.insecure_channel(server.target) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        while True:
            try:
                stub.GetJwks(pb.GetJwksRequest(), timeout=1.0)
                return
            except grpc.RpcError:
                pass
            if server.process.poll() is not None:
                _fail(
                    f"{server.name} server exited with {server.process.returncode}:\n"
                    + _log_tail(server.log_path)
                )
            if time.monotonic() > deadline:
                _fail(f"{server.name} server did not answer within {START_TIMEOUT_S:.0f}s")
            time.sleep(0.1)


OURS_ARGV = (sys.executable, "-m", "session_service", "serve", "--host", HOST, "--metrics-port", "0")
"""Our service (``running_server`` adds ``--port``)."""


def our_service_env() -> dict[str, str]:
    """This environment without SESSION_* variables, plus the benchmark's own settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SESSION_", "OTEL_"))}
    # Without SESSION_REDIS_URL the service starts a private redis-server (pinned with it).
    env["SESSION_REFRESH_GRACE"] = str(REFRESH_GRACE_S)
    # h2load repeats one body, so every Create and Refresh is the same user's: the per-user
    # rate limits and session cap (on by default) would refuse almost all of them. What is
    # measured is the cost of a call, so they are off here (bench/soak.py exercises them).
    # The per-caller rate limit stays on at its default (far above what one core serves):
    # its cost per call is part of ours.
    env["SESSION_CREATE_RATE_PER_USER"] = "0"
    env["SESSION_REFRESH_RATE_PER_USER"] = "0"
    env["SESSION_MAX_SESSIONS_PER_USER"] = "0"
    return env


# --- clients and prepared calls ------------------------------------------------------------


class Client:
    """A normal gRPC client: typed stubs to set sessions up, raw calls to send the exact bench bodies."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.channel = grpc.insecure_channel(server.target)
        self.stub = session_pb2_grpc.SessionServiceStub(self.channel)

    def call(self, rpc: str, body: bytes) -> bytes:
        """Sends the serialized request ``body`` and returns the serialized reply; fails unless OK."""
        # No serializers: the bytes h2load will send go out as they are.
        method: grpc.UnaryUnaryMultiCallable[bytes, bytes] = self.channel.unary_unary(f"/{SERVICE}/{rpc}")
        try:
            return method(body, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as e:
            status = f"{e.code().name}: {e.details()}" if isinstance(e, grpc.Call) else str(e)
            _fail(f"{rpc} on the {self.server.name} server did not return OK: {status}")

    def close(self) -> None:
        """Closes the channel."""
        self.channel.close()


@contextlib.contextmanager
def connected(server: Server) -> Iterator[Client]:
    """A client on ``server``, closed on exit."""
    client = Client(server)
    try:
        yield client
    finally:
        client.close()


@dataclass(frozen=True)
class Case:
    """One RPC as the benchmark drives it: the body h2load repeats and how to check the replies."""

    rpc: str
    body: bytes
    """The serialized request message."""
    check_reply: Callable[[bytes], None]
    """Raises BenchmarkError unless a reply to ``body`` is what a successful call returns."""
    effect_count: Callable[[], int] | None = None
    """A number that every successful call raises by exactly one, where the RPC has one."""


def _new_session(user_id: str, device: str = "laptop") -> pb.CreateRequest:
    return pb.CreateRequest(
        user_id=user_id,
        claims={"tenant": "acme"},
        data={"locale": b"en-GB", "theme": b"dark"},
        scopes=["openid", "profile", "email"],
        client=pb.ClientInfo(
            ip="203.0.113.7", user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", device=device
        ),
        client_id="web",
    )


def _created(client: Client, user_id: str, device: str = "laptop") -> pb.CreateResponse:
    reply: pb.CreateResponse = client.stub.Create(_new_session(user_id, device), timeout=CALL_TIMEOUT_S)
    return reply


def _prepare_create(client: Client) -> Case:
    body = _new_session("bench-create").SerializeToString()

    def check(raw: bytes) -> None:
        reply = pb.CreateResponse.FromString(raw)
        _expect(reply.session.user_id == "bench-create", "Create: reply is not the new session")
        _expect(bool(reply.access_token and reply.refresh_token), "Create: reply lacks tokens")

    return Case("Create", body, check)


def _prepare_get(client: Client) -> Case:
    sid = _created(client, "bench-get").session.session_id

    def check(raw: bytes) -> None:
        _expect(pb.GetResponse.FromString(raw).session.session_id == sid, "Get: reply is another session")

    return Case("Get", pb.GetRequest(session_id=sid).SerializeToString(), check)


def _prepare_refresh(client: Client) -> Case:
    token = _created(client, "bench-refresh").refresh_token
    # The first rotation; every repeat of the same body is then a duplicate within the grace
    # window and must get this same successor (reuse outside it would revoke the session).
    first: pb.RefreshResponse = client.stub.Refresh(
        pb.RefreshRequest(refresh_token=token), timeout=CALL_TIMEOUT_S
    )

    def check(raw: bytes) -> None:
        reply = pb.RefreshResponse.FromString(raw)
        _expect(reply.refresh_token == first.refresh_token, "Refresh: a duplicate got another successor")

    return Case("Refresh", pb.RefreshRequest(refresh_token=token).SerializeToString(), check)


def _prepare_introspect(client: Client) -> Case:
    created = _created(client, "bench-introspect")
    body = pb.IntrospectRequest(token=created.access_token, token_type_hint="access_token")

    def check(raw: bytes) -> None:
        reply = pb.IntrospectResponse.FromString(raw)
        _expect(reply.active, "Introspect: the access token is reported inactive")
        _expect(reply.sid == created.session.session_id, "Introspect: reply names another session")

    return Case("Introspect", body.SerializeToString(), check)


def _prepare_update(client: Client) -> Case:
    sid = _created(client, "bench-update").session.session_id
    body = pb.UpdateRequest(session_id=sid, set={"last_page": b"/settings"})

    def check(raw: bytes) -> None:
        data = pb.UpdateResponse.FromString(raw).session.data
        _expect(data.get("last_page") == b"/settings", "Update: the key was not set")

    def version() -> int:
        reply: pb.GetResponse = client.stub.Get(pb.GetRequest(session_id=sid), timeout=CALL_TIMEOUT_S)
        return reply.session.version

    return Case("Update", body.SerializeToString(), check, version)


def _prepare_list(client: Client) -> Case:
    for device in ("laptop", "phone", "tablet"):
        _created(client, "bench-list", device)

    def check(raw: bytes) -> None:
        count = len(pb.ListResponse.FromString(raw).sessions)
        _expect(count == 3, f"List: expected 3 sessions, got {count}")

    return Case("List", pb.ListRequest(user_id="bench-list").SerializeToString(), check)


def _prepare_revoke(client: Client) -> Case:
    sid = _created(client, "bench-revoke").session.session_id
    first: pb.RevokeResponse = client.stub.Revoke(pb.RevokeRequest(session_id=sid), timeout=CALL_TIMEOUT_S)
    _expect(first.revoked_count == 1, "Revoke: the first revoke ended no session")

    def check(raw: bytes) -> None:
        count = pb.RevokeResponse.FromString(raw).revoked_count
        _expect(count == 0, f"Revoke: a revoked session was revoked again ({count})")

    return Case("Revoke", pb.RevokeRequest(session_id=sid).SerializeToString(), check)


def _prepare_get_jwks(client: Client) -> Case:
    def check(raw: bytes) -> None:
        keys = json.loads(pb.GetJwksResponse.FromString(raw).jwks_json).get("keys")
        _expect(bool(keys), "GetJwks: no keys")

    return Case("GetJwks", pb.GetJwksRequest().SerializeToString(), check)


PREPARE: dict[str, Callable[[Client], Case]] = {
    "Create": _prepare_create,
    "Get": _prepare_get,
    "Refresh": _prepare_refresh,
    "Introspect": _prepare_introspect,
    "Update": _prepare_update,
    "List": _prepare_list,
    "Revoke": _prepare_revoke,
    "GetJwks": _prepare_get_jwks,
}
"""How to prepare each RPC against our service, in the order they run."""


def baseline_case(case: Case) -> Case:
    """The same body against the empty server, whose every reply is the empty message."""

    def check(raw: bytes) -> None:
        _expect(raw == b"", f"{case.rpc}: the empty server returned a non-empty reply")

    return Case(case.rpc, case.body, check)


# --- h2load --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """The shape of every h2load run."""

    clients: int
    """Connections (h2load -c)."""
    streams: int
    """Concurrent streams per connection (h2load -m)."""
    requests: int
    """Measured calls per RPC and server (h2load -n)."""
    warmup: int
    """Unmeasured calls sent just before (0: none)."""


@dataclass(frozen=True)
class Measurement:
    """What one h2load run measured."""

    requests: int
    seconds: float
    """From the first call's start to the last call's end, per the log."""
    req_per_s: float
    p50_ms: float
    p99_ms: float
    reply_bytes: float
    """Mean DATA bytes received per call, gRPC framing included."""
    p999_ms: float = 0.0
    client_late_ms: float = 0.0
    """Open-loop runs: the most the client ever started a call after its scheduled time
    (that time counts in the call's latency, so a late client inflates the figures)."""


_SUMMARY = re.compile(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded")
_DATA_BYTES = re.compile(r"\((\d+)\) data")


@dataclass(frozen=True)
class H2Load:
    """Runs h2load with one load shape, pinned away from the servers when possible."""

    load: Load
    pinning: Pinning
    tmp: Path
    """Where request bodies and logs go."""

    def run(self, server: Server, case: Case, requests: int, log: Path | None = None, rps: int = 0) -> str:
        """Sends ``requests`` calls of ``case``; h2load's summary. ``rps`` > 0 paces each
        connection to that many calls per second (latency at a fixed load)."""
        body = self.tmp / f"{case.rpc}.bin"
        body.write_bytes(b"\0" + len(case.body).to_bytes(4, "big") + case.body)
        argv = [
            *self.pinning.load,
            "h2load",
            *("-c", str(self.load.clients), "-m", str(self.load.streams), "-t", "1", "-n", str(requests)),
            *(["--rps", str(rps)] if rps > 0 else []),
            *("-d", str(body), "-H", "content-type: application/grpc", "-H", "te: trailers"),
            *(["--log-file", str(log)] if log is not None else []),
            f"http://{server.target}/{SERVICE}/{case.rpc}",
        ]
        return run_load_tool(argv, f"h2load {case.rpc} against the {server.name} server")


def run_load_tool(argv: Sequence[str], what: str) -> str:
    """Runs a load generator (h2load, open_loop.py) to its end; its stdout. Fails the
    benchmark if it exits non-zero or runs over H2LOAD_TIMEOUT_S."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=H2LOAD_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        _fail(f"{what} took over {H2LOAD_TIMEOUT_S:.0f}s")
    if done.returncode != 0:
        _fail(f"{what} exited with {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


def _from_log(log: Path, requests: int, reply_bytes: float) -> Measurement:
    starts: list[int] = []
    ends: list[int] = []
    durations: list[int] = []
    for line in log.read_text().splitlines():
        start, status, duration = (int(column) for column in line.split("\t")[:3])
        _expect(status == 200, f"a call ended with HTTP status {status}")
        starts.append(start)
        ends.append(start + duration)
        durations.append(duration)
    _expect(len(durations) == requests, f"the log lists {len(durations)} calls, not {requests}")
    seconds = (max(ends) - min(starts)) / 1e6
    percentiles = statistics.quantiles(durations, n=100, method="inclusive")
    return Measurement(
        requests=requests,
        seconds=round(seconds, 3),
        req_per_s=round(requests / seconds, 1),
        p50_ms=round(percentiles[49] / 1000, 2),
        p99_ms=round(percentiles[98] / 1000, 2),
        reply_bytes=round(reply_bytes, 1),
        p999_ms=round(statistics.quantiles(durations, n=1000, method="inclusive")[998] / 1000, 2),
    )


def measure(client: Client, case: Case, h2load: H2Load, *, total_rate: float = 0.0) -> Measurement:
    """Checks the body, drives it with h2load, checks again; the measured run's numbers.

    ``total_rate`` > 0 paces the load to about that many calls per second in all (latency
    at a fixed share of the peak) instead of as fast as the server answers."""
    server, load = client.server, h2load.load
    rps = max(1, round(total_rate / load.clients)) if total_rate > 0 else 0
    checked = client.call(case.rpc, case.body)
    case.check_reply(checked)
    expected_reply_bytes = GRPC_FRAME_HEADER + len(checked)
    before = case.effect_count() if case.effect_count else 0
    if load.warmup:
        h2load.run(server, case, load.warmup)
    log = h2load.tmp / f"{server.name}-{case.rpc}.log"
    log.unlink(missing_ok=True)  # h2load appends
    summary = h2load.run(server, case, load.requests, log, rps=rps)

    where = f"{case.rpc} on the {server.name} server"
    counts = _SUMMARY.search(summary)
    data = _DATA_BYTES.search(summary)
    if counts is None or data is None:
        _fail(f"{where}: cannot read h2load's summary:\n{summary}")
    _expect(int(counts[2]) == load.requests, f"{where}: h2load reports failed calls:\n{summary}")
    reply_bytes = int(data[1]) / load.requests
    # A gRPC error is a trailers-only response, without DATA: errors pull the mean down.
    _expect(
        reply_bytes >= REPLY_BYTES_TOLERANCE * expected_reply_bytes,
        f"{where}: {reply_bytes:.1f} DATA bytes per call, expected about {expected_reply_bytes}; "
        "calls must have failed",
    )
    if case.effect_count:
        sent = load.warmup + load.requests
        rise = case.effect_count() - before
        _expect(rise == sent, f"{where}: {sent} calls sent but only {rise} took effect")
    case.check_reply(client.call(case.rpc, case.body))
    return _from_log(log, load.requests, reply_bytes)


OPEN_LOOP_SECONDS = 8.0
"""Measured seconds of each open-loop run (after one unmeasured second)."""


def open_loop(client: Client, case: Case, pinning: Pinning, rate: float) -> Measurement:
    """Latency under open-loop Poisson arrivals at ``rate`` calls per second (open_loop.py,
    a grpc.aio client pinned where h2load runs); the body is checked before and after."""
    checked = client.call(case.rpc, case.body)
    case.check_reply(checked)
    argv = [
        *pinning.load,
        sys.executable,
        str(BENCH_DIR / "open_loop.py"),
        *("--target", client.server.target, "--method", f"/{SERVICE}/{case.rpc}"),
        *("--body-hex", case.body.hex(), "--rate", f"{rate:.1f}", "--seconds", str(OPEN_LOOP_SECONDS)),
        *("--min-reply-bytes", str(int(REPLY_BYTES_TOLERANCE * len(checked)))),
    ]
    found = json.loads(run_load_tool(argv, f"open-loop {case.rpc} on the {client.server.name} server"))
    case.check_reply(client.call(case.rpc, case.body))
    return Measurement(
        requests=found["calls"],
        seconds=found["seconds"],
        req_per_s=found["req_per_s"],
        p50_ms=found["p50_ms"],
        p99_ms=found["p99_ms"],
        reply_bytes=GRPC_FRAME_HEADER + len(checked),
        p999_ms=found["p999_ms"],
        client_late_ms=found["max_send_late_ms"],
    )


# --- report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One RPC's numbers on our server, the empty server and the one-script server."""

    rpc: str
    ours: Measurement
    baseline: Measurement
    one_script: Measurement | None = None
    """The handler that does exactly one EVALSHA (``empty_server.py --one-script``)."""

    @property
    def ratio(self) -> float:
        """Our throughput as a share of the empty server's."""
        return round(self.ours.req_per_s / self.baseline.req_per_s, 3)

    @property
    def ratio_one_script(self) -> float | None:
        """Our throughput as a share of the one-script server's."""
        if self.one_script is None:
            return None
        return round(self.ours.req_per_s / self.one_script.req_per_s, 3)


HEADERS = (
    "RPC",
    "ours req/s",
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "one-script req/s",
    "empty req/s",
    "ours/one-script",
    "ours/empty",
)


def table(rows: Sequence[Row]) -> str:
    """The results as a Markdown table (readable in a terminal as it is)."""
    cells = [
        [
            r.rpc,
            f"{r.ours.req_per_s:.0f}",
            f"{r.ours.p50_ms:.1f}",
            f"{r.ours.p99_ms:.1f}",
            f"{r.ours.p999_ms:.1f}",
            f"{r.one_script.req_per_s:.0f}" if r.one_script else "-",
            f"{r.baseline.req_per_s:.0f}",
            f"{r.ratio_one_script:.2f}" if r.ratio_one_script is not None else "-",
            f"{r.ratio:.2f}",
        ]
        for r in rows
    ]
    return markdown_table(HEADERS, cells)


@dataclass(frozen=True)
class Target:
    """One performance target, its measured value and whether it is met."""

    name: str
    target: str
    measured: str
    baseline: str
    met: bool


THROUGHPUT_TARGETS = {"Get": 0.9, "Introspect": 0.9, "Create": 0.75, "Refresh": 0.75}
THROUGHPUT_TARGETS |= {"Update": 0.75, "Revoke": 0.75, "List": 0.75}
"""Least ours/one-script throughput per RPC."""
PACED_SHARE = 0.7
"""Paced latency runs load the server at this share of its measured peak."""
PACED_P99_MS = 5.0
SATURATED_P99_OVER_P50 = 3.0


@dataclass(frozen=True)
class Paced:
    """Latency at a fixed rate: ours at PACED_SHARE of its peak, and the one-script server
    at the same rate (how much of the tail the load shape, gRPC and Redis cause anyway);
    once paced by h2load and once under open-loop Poisson arrivals (open_loop.py)."""

    rpc: str
    ours: Measurement
    one_script: Measurement
    ours_open: Measurement
    one_script_open: Measurement


def targets(rows: Sequence[Row], paced: Sequence[Paced]) -> list[Target]:
    """Every throughput and latency target with what this run measured."""
    found: list[Target] = []
    for r in rows:
        share = THROUGHPUT_TARGETS.get(r.rpc)
        if share is not None and r.ratio_one_script is not None:
            found.append(
                Target(
                    f"{r.rpc} ours/one-script",
                    f">= {share:.2f}",
                    f"{r.ratio_one_script:.2f}",
                    f"one-script {r.one_script.req_per_s:.0f} req/s" if r.one_script else "-",
                    r.ratio_one_script >= share,
                )
            )
    for r in rows:
        if r.rpc in ("Get", "Introspect"):
            spread = r.ours.p99_ms / r.ours.p50_ms if r.ours.p50_ms else float("inf")
            found.append(
                Target(
                    f"{r.rpc} saturated p99/p50",
                    f"<= {SATURATED_P99_OVER_P50:.0f}",
                    f"{spread:.2f} (p50 {r.ours.p50_ms:.1f}, p99 {r.ours.p99_ms:.1f}, "
                    f"p99.9 {r.ours.p999_ms:.1f} ms)",
                    f"empty p99/p50 {r.baseline.p99_ms / r.baseline.p50_ms:.2f}",
                    spread <= SATURATED_P99_OVER_P50,
                )
            )
    by_rpc = {r.rpc: r for r in rows}
    for p in paced:
        shapes = (("Poisson", p.ours_open, p.one_script_open), ("h2load --rps", p.ours, p.one_script))
        for how, m, base in shapes:
            found.append(
                Target(
                    f"{p.rpc} p99 at {PACED_SHARE:.0%} of peak, {how}",
                    f"<= {PACED_P99_MS:.0f} ms",
                    f"{m.p99_ms:.1f} ms (p50 {m.p50_ms:.1f}, p99.9 {m.p999_ms:.1f}) "
                    f"at {m.req_per_s:.0f} req/s",
                    f"peak {by_rpc[p.rpc].ours.req_per_s:.0f} req/s; one-script at the same rate: "
                    f"p99 {base.p99_ms:.1f} ms",
                    m.p99_ms <= PACED_P99_MS,
                )
            )
    return found


def targets_table(found: Sequence[Target]) -> str:
    """The targets as a Markdown table."""
    headers = ("target", "wanted", "measured", "same-run baseline", "met")
    return markdown_table(
        headers, [[t.name, t.target, t.measured, t.baseline, "yes" if t.met else "NO"] for t in found]
    )


def markdown_table(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    """A Markdown table, first column left-aligned and the others right-aligned."""
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        padded = [
            v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|"
    return "\n".join([line(headers), rule, *(line(c) for c in cells)])


def _h2load_version() -> str:
    done = subprocess.run(["h2load", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def report(
    rows: Sequence[Row],
    load: Load,
    pinning: Pinning,
    paced: Sequence[Paced] = (),
    extra: dict[str, object] | None = None,
) -> dict[str, object]:
    """The results with what is needed to compare them with another run."""
    try:
        import uvloop  # noqa: F401

        has_uvloop = True
    except ImportError:
        has_uvloop = False
    return {
        "finished_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "versions": {"grpcio": grpc.__version__, "h2load": _h2load_version(), "uvloop": has_uvloop},
        "load": asdict(load),
        "pinned": pinning.enabled,
        "refresh_grace_s": REFRESH_GRACE_S,
        "results": [
            {
                "rpc": r.rpc,
                "ours": asdict(r.ours),
                "baseline": asdict(r.baseline),
                "one_script": asdict(r.one_script) if r.one_script else None,
                "ratio": r.ratio,
                "ratio_one_script": r.ratio_one_script,
            }
            for r in rows
        ],
        "paced": [
            {
                "rpc": p.rpc,
                "share_of_peak": PACED_SHARE,
                **asdict(p.ours),
                "one_script": asdict(p.one_script),
                "poisson": {"ours": asdict(p.ours_open), "one_script": asdict(p.one_script_open)},
            }
            for p in paced
        ],
        "targets": [asdict(t) for t in targets(rows, paced)],
        **(extra or {}),
    }


# --- main ----------------------------------------------------------------------------------


def positive(raw: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _ratio(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


@dataclass(frozen=True)
class Options:
    """What to run, from the command line."""

    load: Load
    rpcs: list[str]
    json_path: Path
    topologies: tuple[str, ...]
    ratios: tuple[float, ...]
    """Tracing sampling ratios to measure ours at, besides tracing off."""


def _parse(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=positive, default=4000, help="measured calls per RPC and server")
    parser.add_argument("--warmup", type=int, default=500, help="unmeasured calls before each run (0: none)")
    parser.add_argument("--clients", type=positive, default=8, help="h2load connections (-c)")
    parser.add_argument("--streams", type=positive, default=16, help="concurrent streams per connection (-m)")
    parser.add_argument(
        "--rpc", action="append", choices=list(PREPARE), help="run only this RPC (repeatable; default all)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=BENCH_DIR / "results" / "rpc_throughput.json",
        help="where to write the results as JSON",
    )
    parser.add_argument(
        "--topology",
        choices=[*TOPOLOGIES, "both"],
        default="standalone",
        help="a private redis-server, a 6-node Redis Cluster the benchmark starts, or both",
    )
    parser.add_argument(
        "--tracing",
        type=_ratio,
        action="append",
        metavar="RATIO",
        help="also measure ours with tracing on, parentbased_traceidratio at RATIO, exporting OTLP "
        "to a span sink on the load generator's CPU (repeatable, e.g. --tracing 0.1 --tracing 1)",
    )
    args = parser.parse_args(argv)
    load = Load(args.clients, args.streams, args.requests, args.warmup)
    # h2load refuses fewer calls than connections.
    if load.requests < max(load.clients, 2) or load.warmup < 0 or 0 < load.warmup < load.clients:
        parser.error(
            "--requests and a non-zero --warmup must be at least --clients (and --requests at least 2)"
        )
    rpcs = [rpc for rpc in PREPARE if rpc in (args.rpc or PREPARE)]
    topologies = TOPOLOGIES if args.topology == "both" else (args.topology,)
    ratios = tuple(dict.fromkeys(args.tracing or ()))
    return Options(load, rpcs, args.json, topologies, ratios)


PACED_RPCS = ("Get", "Introspect")
"""RPCs whose latency is also measured at PACED_SHARE of their peak."""


def run(load: Load, rpcs: Sequence[str], pinning: Pinning, tmp: Path) -> tuple[list[Row], list[Paced]]:
    """Starts the three servers, measures every RPC on each and stops them again; also the
    paced latency of PACED_RPCS on ours."""
    baseline_argv = [sys.executable, str(BENCH_DIR / "empty_server.py"), "--host", HOST]
    h2load = H2Load(load, pinning, tmp)
    rows: list[Row] = []
    paced: list[Paced] = []
    with contextlib.ExitStack() as stack:
        ours = stack.enter_context(running_server("ours", OURS_ARGV, our_service_env(), tmp, pinning))
        baseline = stack.enter_context(
            running_server("baseline", baseline_argv, dict(os.environ), tmp, pinning)
        )
        one_script = stack.enter_context(
            running_server("one-script", [*baseline_argv, "--one-script"], dict(os.environ), tmp, pinning)
        )
        ours_client = stack.enter_context(connected(ours))
        baseline_client = stack.enter_context(connected(baseline))
        one_script_client = stack.enter_context(connected(one_script))
        for rpc in rpcs:
            # Prepared right before its run, so the Refresh grace window starts just then.
            case = PREPARE[rpc](ours_client)
            ours_numbers = measure(ours_client, case, h2load)
            empty = baseline_case(case)
            row = Row(
                rpc,
                ours_numbers,
                measure(baseline_client, empty, h2load),
                measure(one_script_client, empty, h2load),
            )
            print(
                f"{rpc}: ours {row.ours.req_per_s:.0f} req/s, one-script "
                f"{row.one_script.req_per_s if row.one_script else 0:.0f} req/s, "
                f"empty {row.baseline.req_per_s:.0f} req/s",
                file=sys.stderr,
            )
            rows.append(row)
            if rpc in PACED_RPCS:
                rate = PACED_SHARE * ours_numbers.req_per_s
                paced.append(
                    Paced(
                        rpc,
                        measure(ours_client, case, h2load, total_rate=rate),
                        measure(one_script_client, empty, h2load, total_rate=rate),
                        open_loop(ours_client, case, pinning, rate),
                        open_loop(one_script_client, empty, pinning, rate),
                    )
                )
                last = paced[-1]
                late = max(last.ours_open.client_late_ms, last.one_script_open.client_late_ms)
                print(
                    f"{rpc} at {rate:.0f} req/s: p99 h2load {last.ours.p99_ms:.1f} ms "
                    f"(one-script {last.one_script.p99_ms:.1f} ms), Poisson "
                    f"{last.ours_open.p99_ms:.1f} ms (one-script {last.one_script_open.p99_ms:.1f} ms; "
                    f"client at most {late} ms late)",
                    file=sys.stderr,
                )
    return rows, paced


# --- the deployed shape: topology and tracing ----------------------------------------------

TOPOLOGIES = ("standalone", "cluster")
TRACING_TARGETS = {"Get": 0.85, "Introspect": 0.9, "Create": 0.6, "Refresh": 0.6}
TRACING_TARGETS |= {"Update": 0.7, "Revoke": 0.7, "List": 0.7}
"""Least ours/one-script (the anchor, tracing off, same topology) with tracing at TARGET_RATIO."""
TARGET_RATIO = 0.1
FULL_TRACING_SHARE = 0.8
"""Least share of its own tracing-off req/s an RPC keeps with every call sampled."""
OFF = "off"


def mode_name(ratio: float | None) -> str:
    """``off`` or the sampling ratio as a percentage."""
    return OFF if ratio is None else f"{ratio * 100:g} %"


@dataclass
class Shape:
    """One topology's throughput: the one-script anchor (tracing off) and ours per tracing mode."""

    topology: str
    anchor: dict[str, Measurement]
    """RPC → the one-script server's numbers on this topology."""
    ours: dict[str, dict[str, Measurement]]
    """Tracing mode (``mode_name``) → RPC → our numbers."""
    spans: dict[str, int]
    """Tracing mode → spans the sink received from that run's service."""


@dataclass(frozen=True)
class SpanSink:
    """The OTLP receiver the traced services export to (bench/span_sink.py)."""

    endpoint: str
    count_file: Path

    def received(self) -> int:
        """Spans received so far."""
        try:
            return int(self.count_file.read_text() or 0)
        except (OSError, ValueError):
            return 0


@contextlib.contextmanager
def running_span_sink(pinning: Pinning, tmp: Path) -> Iterator[SpanSink]:
    """span_sink.py on a free port, pinned with the load generator, stopped by PID on exit."""
    port = free_port()
    sink = SpanSink(f"http://{HOST}:{port}", tmp / "spans.count")
    argv = [
        *pinning.load,
        sys.executable,
        str(BENCH_DIR / "span_sink.py"),
        "--host",
        HOST,
        "--port",
        str(port),
    ]
    log_path = tmp / "span-sink.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*argv, "--count-file", str(sink.count_file)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            with socket.socket() as probe:
                if probe.connect_ex((HOST, port)) == 0:
                    break
            if process.poll() is not None:
                _fail(f"the span sink exited with {process.returncode}:\n{_log_tail(log_path)}")
            _expect(time.monotonic() < deadline, "the span sink did not start")
            time.sleep(0.05)
        yield sink
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def tracing_env(env: dict[str, str], ratio: float, sink: SpanSink) -> dict[str, str]:
    """``env`` with tracing on: OTLP/gRPC to the sink, parentbased_traceidratio at ``ratio``."""
    return env | {
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": str(ratio),
        "OTEL_SERVICE_NAME": "session-service-bench",
    }


def measure_ours(
    name: str, env: dict[str, str], rpcs: Sequence[str], h2load: H2Load, tmp: Path, pinning: Pinning
) -> dict[str, Measurement]:
    """Starts our service with ``env``, measures each RPC on it and stops it."""
    found: dict[str, Measurement] = {}
    with running_server(name, OURS_ARGV, env, tmp, pinning) as server, connected(server) as client:
        for rpc in rpcs:
            found[rpc] = measure(client, PREPARE[rpc](client), h2load)
            print(f"{name} {rpc}: {found[rpc].req_per_s:.0f} req/s", file=sys.stderr)
    return found


def measure_tracing_modes(
    shape: Shape,
    env: dict[str, str],
    ratios: Sequence[float],
    sink: SpanSink | None,
    rpcs: Sequence[str],
    h2load: H2Load,
    tmp: Path,
) -> None:
    """Adds ours with tracing at each ratio to ``shape`` (one service per ratio, each with
    its own key prefix), and the spans each exported."""
    for n, ratio in enumerate(ratios):
        assert sink is not None
        before = sink.received()
        traced = tracing_env(env, ratio, sink) | {"SESSION_REDIS_PREFIX": f"bt{n}"}
        mode = mode_name(ratio)
        name = f"ours-{shape.topology}-traced-{ratio:g}"
        shape.ours[mode] = measure_ours(name, traced, rpcs, h2load, tmp, h2load.pinning)
        # The service exported what it still held when it stopped.
        shape.spans[mode] = sink.received() - before


@contextlib.contextmanager
def bench_cluster(pinning: Pinning) -> Iterator[Any]:
    """A real 6-node Redis Cluster on loopback (the tests' helper), every node pinned to the
    servers' CPU; each node stopped by its PID on exit."""
    sys.path.insert(0, str(BENCH_DIR.parent))
    from tests.redis_cluster import local_cluster

    with local_cluster() as cluster:
        for node in cluster.nodes:
            if node.process is not None:
                pinning.pin_server_side(node.process.pid)
        yield cluster


def cluster_env(cluster: Any) -> dict[str, str]:
    """The settings that point our service at ``cluster``, in development mode (throwaway
    keys, no caller policy), as ours on its private redis-server runs."""
    return {"SESSION_REDIS_MODE": "cluster", "SESSION_REDIS_URL": cluster.url, "SESSION_DEV": "true"}


def measure_cluster(
    ratios: Sequence[float],
    sink: SpanSink | None,
    rpcs: Sequence[str],
    h2load: H2Load,
    tmp: Path,
    cluster: Any,
) -> Shape:
    """On ``cluster``: the one-script anchor and ours with tracing off, RPC by RPC, then ours
    at each tracing ratio."""
    pinning = h2load.pinning
    env = our_service_env() | cluster_env(cluster)
    anchor_argv = [
        *(sys.executable, str(BENCH_DIR / "empty_server.py"), "--host", HOST, "--one-script"),
        *("--redis-url", cluster.url, "--redis-mode", "cluster"),
    ]
    shape = Shape("cluster", {}, {OFF: {}}, {})
    off_env = env | {"SESSION_REDIS_PREFIX": "boff"}
    with (
        running_server("one-script-cluster", anchor_argv, dict(os.environ), tmp, pinning) as anchor,
        connected(anchor) as anchor_client,
        running_server("ours-cluster", OURS_ARGV, off_env, tmp, pinning) as ours,
        connected(ours) as ours_client,
    ):
        for rpc in rpcs:
            case = PREPARE[rpc](ours_client)
            shape.ours[OFF][rpc] = measure(ours_client, case, h2load)
            shape.anchor[rpc] = measure(anchor_client, baseline_case(case), h2load)
            print(
                f"cluster {rpc}: ours {shape.ours[OFF][rpc].req_per_s:.0f} req/s, "
                f"one-script {shape.anchor[rpc].req_per_s:.0f} req/s",
                file=sys.stderr,
            )
    measure_tracing_modes(shape, env, ratios, sink, rpcs, h2load, tmp)
    return shape


def standalone_shape(
    rows: Sequence[Row], ratios: Sequence[float], sink: SpanSink | None, h2load: H2Load, tmp: Path
) -> Shape:
    """The standalone rows of ``run`` (ours and the one-script anchor, tracing off), and
    ours at each tracing ratio on its private redis-server."""
    deployed = [r for r in rows if r.rpc in TRACING_TARGETS and r.one_script is not None]
    shape = Shape(
        "standalone",
        {r.rpc: r.one_script for r in deployed if r.one_script is not None},
        {OFF: {r.rpc: r.ours for r in deployed}},
        {},
    )
    measure_tracing_modes(shape, our_service_env(), ratios, sink, [r.rpc for r in deployed], h2load, tmp)
    return shape


def shape_targets(shape: Shape) -> list[Target]:
    """Item 4's targets on ``shape``: at TARGET_RATIO against the anchor, at 100 % against
    the same RPC with tracing off."""
    found: list[Target] = []
    at_target, full = mode_name(TARGET_RATIO), mode_name(1.0)
    for rpc, anchor in shape.anchor.items():
        off = shape.ours[OFF][rpc]
        traced = shape.ours.get(at_target, {}).get(rpc)
        if traced is not None:
            share = traced.req_per_s / anchor.req_per_s
            found.append(
                Target(
                    f"{shape.topology}: {rpc} at {at_target} tracing / one-script",
                    f">= {TRACING_TARGETS[rpc]:.2f}",
                    f"{share:.2f} ({traced.req_per_s:.0f} req/s)",
                    f"one-script {anchor.req_per_s:.0f} req/s, tracing off",
                    share >= TRACING_TARGETS[rpc],
                )
            )
        traced = shape.ours.get(full, {}).get(rpc)
        if traced is not None:
            share = traced.req_per_s / off.req_per_s
            found.append(
                Target(
                    f"{shape.topology}: {rpc} at {full} tracing / tracing off",
                    f">= {FULL_TRACING_SHARE:.2f}",
                    f"{share:.2f} ({traced.req_per_s:.0f} req/s)",
                    f"ours, tracing off, {off.req_per_s:.0f} req/s",
                    share >= FULL_TRACING_SHARE,
                )
            )
    return found


def shape_table(shape: Shape) -> str:
    """Per RPC: the anchor, then ours per tracing mode with req/s and its ratio (÷ anchor;
    at 100 % also ÷ tracing off), with the targets next to the figures they apply to."""
    modes = list(shape.ours)
    headers = ["RPC", "one-script req/s"]
    for mode in modes:
        headers += [f"{mode} req/s", "÷ one-script"]
        if mode == mode_name(TARGET_RATIO):
            headers += ["wanted", "met"]
        if mode == mode_name(1.0):
            headers += ["÷ off", "wanted", "met"]
    cells = []
    for rpc, anchor in shape.anchor.items():
        row = [rpc, f"{anchor.req_per_s:.0f}"]
        for mode in modes:
            m = shape.ours[mode][rpc]
            ratio = m.req_per_s / anchor.req_per_s
            row += [f"{m.req_per_s:.0f}", f"{ratio:.2f}"]
            if mode == mode_name(TARGET_RATIO):
                row += [f">= {TRACING_TARGETS[rpc]:.2f}", "yes" if ratio >= TRACING_TARGETS[rpc] else "NO"]
            if mode == mode_name(1.0):
                own = m.req_per_s / shape.ours[OFF][rpc].req_per_s
                row += [
                    f"{own:.2f}",
                    f">= {FULL_TRACING_SHARE:.2f}",
                    "yes" if own >= FULL_TRACING_SHARE else "NO",
                ]
        cells.append(row)
    title = f"{shape.topology} (tracing: parentbased_traceidratio; spans received: "
    title += ", ".join(f"{mode} {count}" for mode, count in shape.spans.items()) or "none"
    return title + ")\n" + markdown_table(headers, cells)


# --- worker processes ------------------------------------------------------------------------


def measure_workers(
    load: Load, pinning: Pinning, tmp: Path, cluster: Any = None
) -> list[tuple[int, Measurement]]:
    """Get with ``--workers 1..N`` (N = CPUs, at most 4). The workers are not pinned (they
    need several cores) while h2load stays on its CPU, so on a 2-core machine the second
    worker shares a core with h2load: read the scaling as a lower bound. ``cluster``: a
    running LocalRedisCluster (its nodes pinned as measure_cluster has them) instead of each
    server's private redis-server."""
    h2load = H2Load(load, Pinning((), pinning.load), tmp)
    env = our_service_env()
    if cluster is not None:
        env |= cluster_env(cluster)
    found: list[tuple[int, Measurement]] = []
    for workers in range(1, min(os.cpu_count() or 1, 4) + 1):
        argv = (*OURS_ARGV, "--workers", str(workers))
        name = f"ours-{workers}w" + ("-cluster" if cluster is not None else "")
        with (
            running_server(
                name, argv, env | {"SESSION_REDIS_PREFIX": f"w{workers}"}, tmp, Pinning((), ())
            ) as server,
            connected(server) as client,
        ):
            found.append((workers, measure(client, PREPARE["Get"](client), h2load)))
        print(f"Get with {workers} worker(s): {found[-1][1].req_per_s:.0f} req/s", file=sys.stderr)
    return found


WORKERS_SCALING_SHARE = 0.9
"""A cluster's scaling with workers (req/s at N workers ÷ at 1) is at least this share of
a single Redis's in the same run: "scales like on a single Redis"."""


def workers_targets(scaling: dict[str, list[tuple[int, Measurement]]]) -> list[Target]:
    """Per worker count above 1: the cluster's scaling against the single Redis's."""
    if "standalone" not in scaling or "cluster" not in scaling:
        return []
    standalone, cluster = dict(scaling["standalone"]), dict(scaling["cluster"])
    found = []
    for n in sorted(set(standalone) & set(cluster) - {1}):
        single = standalone[n].req_per_s / standalone[1].req_per_s
        spread = cluster[n].req_per_s / cluster[1].req_per_s
        found.append(
            Target(
                f"cluster: Get with {n} workers ÷ 1 worker, of the single Redis's",
                f">= {WORKERS_SCALING_SHARE}",
                f"{spread / single:.2f}",
                f"cluster {spread:.2f}x ({cluster[n].req_per_s:.0f} req/s), "
                f"single Redis {single:.2f}x ({standalone[n].req_per_s:.0f} req/s)",
                spread / single >= WORKERS_SCALING_SHARE,
            )
        )
    return found


# --- Redis memory per session ----------------------------------------------------------------

MEMORY_SESSIONS = 50
"""Sessions of each kind measured (one user each); the mean is reported."""
MEMORY_REFRESHES = 10


def _typical_session(user_id: str) -> pb.CreateRequest:
    """A few claims, scopes, client info and two data keys."""
    return pb.CreateRequest(
        user_id=user_id,
        claims={"tenant": "acme", "role": "member", "plan": "pro"},
        data={"locale": b"en-GB", "theme": b"dark"},
        scopes=["openid", "profile", "email"],
        client=pb.ClientInfo(
            ip="203.0.113.7", user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", device="laptop"
        ),
        client_id="web",
    )


def _user_bytes(redis_client: object, session_id: str) -> int:
    """MEMORY USAGE of every key in the session's user slot: its hash, the user index and
    anything else the user keeps (one session per user, so all of it is the session's),
    except the user's rate-limit buckets: they are not stored sessions but a minute of
    recent activity (they expire once full again), reported apart by measure_memory."""
    tag = session_id.partition(".")[0]
    total = 0
    for key in redis_client.scan_iter(match=f"*{{{tag}}}*", count=1000):  # type: ignore[attr-defined]
        if b":rl:" not in key:
            total += int(redis_client.memory_usage(key, samples=0) or 0)  # type: ignore[attr-defined]
    return total


def _bucket_bytes(redis_client: object, session_id: str) -> int:
    """MEMORY USAGE of the user's rate-limit buckets (Create and Refresh)."""
    tag = session_id.partition(".")[0]
    total = 0
    for key in redis_client.scan_iter(match=f"*{{{tag}}}:rl:*", count=1000):  # type: ignore[attr-defined]
        total += int(redis_client.memory_usage(key, samples=0) or 0)  # type: ignore[attr-defined]
    return total


def _rate_bucket_keys(redis_client: Any, prefix: str) -> list[bytes]:
    return list(redis_client.scan_iter(match=f"{prefix}:*:rl:*", count=1000))


BUFFERS = ("mem_replication_backlog", "mem_clients_slaves", "mem_clients_normal", "mem_aof_buffer")
"""Parts of ``used_memory`` that hold traffic, not data: the replication backlog (a cluster
primary fills it with every write, up to repl-backlog-size), replicas' and clients' buffers
and the AOF buffer."""


REHASH_SETTLE_S = 1.0
"""How long to let Redis finish an incremental rehash before reading ``used_memory``: while
the keyspace's table grows, the old and the new table both exist (its cron moves 100
buckets a millisecond), and a reading then would charge the sessions with a table being
freed."""


def _used_memory(nodes: Sequence[Any]) -> int:
    """``INFO memory`` ``used_memory`` less BUFFERS, summed over ``nodes`` (a cluster's
    primaries), once a rehash begun by the writes before has ended."""
    time.sleep(REHASH_SETTLE_S)
    total = 0
    for node in nodes:
        info = node.info("memory")
        total += int(info["used_memory"]) - sum(int(info.get(name, 0)) for name in BUFFERS)
    return total


MEMORY_GROWTH_SESSIONS = {"minimal": 6000, "typical_refreshed": 900}
"""Sessions created (one user each) to measure ``used_memory`` growth per session: enough
that the keyspace's tables double at least once on the way, so their cost is spread over
the keys as it is over time, rather than all or none of a doubling landing in the window."""


BUCKET_BATCH = 250
"""Sessions created between two deletions of their users' rate-limit buckets while
``used_memory`` growth is measured, as if they had expired: a bucket lives a minute after
its user's last Create, so in a store that gathered its sessions over more than a minute
only the last minute's users have one. Keeping every bucket alive until the end would
size Redis's keyspace tables for the buckets too, and charge each session a share of
tables that only a burst of Creates needs."""


def _grow(client: Client, kind: str, index: int) -> None:
    if kind == "minimal":
        client.stub.Create(pb.CreateRequest(user_id=f"grow-min-{index}"), timeout=CALL_TIMEOUT_S)
        return
    created = client.stub.Create(_typical_session(f"grow-ref-{index}"), timeout=CALL_TIMEOUT_S)
    token = created.refresh_token
    for _ in range(MEMORY_REFRESHES):
        token = client.stub.Refresh(
            pb.RefreshRequest(refresh_token=token), timeout=CALL_TIMEOUT_S
        ).refresh_token


def _delete_buckets(redis_client: Any, prefix: str) -> None:
    for key in _rate_bucket_keys(redis_client, prefix):
        redis_client.delete(key)


def _growth_per_session(
    client: Client, redis_client: Any, nodes: Sequence[Any], prefix: str, kind: str
) -> tuple[float, float]:
    """``used_memory`` growth per session of ``kind`` over MEMORY_GROWTH_SESSIONS of them,
    one user each, with the users' rate-limit buckets deleted every BUCKET_BATCH sessions
    (as they expire a minute after a user's last Create or Refresh); and that growth plus
    what the last batch's buckets held per user, read before deleting them: a session
    whose user created or refreshed in the last minute."""
    count = MEMORY_GROWTH_SESSIONS[kind]
    _delete_buckets(redis_client, prefix)
    before = _used_memory(nodes)
    for i in range(count):
        _grow(client, kind, i)
        if (i + 1) % BUCKET_BATCH == 0 and i + 1 < count:
            _delete_buckets(redis_client, prefix)
    with_buckets = _used_memory(nodes)
    _delete_buckets(redis_client, prefix)
    after = _used_memory(nodes)
    last_batch = count - (count - 1) // BUCKET_BATCH * BUCKET_BATCH
    per_session = (after - before) / count
    return round(per_session + (with_buckets - after) / last_batch, 1), round(per_session, 1)


def measure_memory(pinning: Pinning, tmp: Path, cluster: Any = None) -> dict[str, float]:
    """Mean Redis bytes per session: minimal, typical and typical after MEMORY_REFRESHES
    refreshes, by MEMORY USAGE of the user's keys; and by ``used_memory`` growth over many
    sessions, which also counts the keyspace's own cost per key. ``cluster``: a running
    LocalRedisCluster to measure on (its primaries' ``used_memory`` summed), instead of a
    private redis-server."""
    import redis

    from session_service.store.embedded import RedisServerProcess

    prefix = "mem"
    # The service's defaults, per-user limits included: their buckets are measured apart.
    env = {k: v for k, v in our_service_env().items() if "RATE" not in k and "MAX_SESSIONS" not in k}
    env |= {"SESSION_DEV": "true", "SESSION_REDIS_PREFIX": prefix}
    redis_server = None
    with contextlib.ExitStack() as stack:
        if cluster is None:
            redis_server = RedisServerProcess("redis-server", free_port())
            redis_server.start()
            stack.callback(redis_server.stop)
            env["SESSION_REDIS_URL"] = redis_server.url
            r: Any = stack.enter_context(contextlib.closing(redis.Redis.from_url(redis_server.url)))
            nodes: list[Any] = [r]
        else:
            env |= cluster_env(cluster)
            r = stack.enter_context(
                contextlib.closing(redis.RedisCluster.from_url(cluster.url.split(",")[0]))
            )
            nodes = [stack.enter_context(contextlib.closing(node.client())) for node in cluster.primaries()]
        server = stack.enter_context(running_server("ours-memory", OURS_ARGV, env, tmp, pinning))
        client = stack.enter_context(connected(server))
        sizes: dict[str, list[int]] = {
            "minimal": [],
            "typical": [],
            "typical_refreshed": [],
            "rate_limit_buckets": [],
        }
        for i in range(MEMORY_SESSIONS):
            minimal = client.stub.Create(pb.CreateRequest(user_id=f"mem-min-{i}"), timeout=CALL_TIMEOUT_S)
            sizes["minimal"].append(_user_bytes(r, minimal.session.session_id))
            typical = client.stub.Create(_typical_session(f"mem-typ-{i}"), timeout=CALL_TIMEOUT_S)
            sizes["typical"].append(_user_bytes(r, typical.session.session_id))
            refreshed = client.stub.Create(_typical_session(f"mem-ref-{i}"), timeout=CALL_TIMEOUT_S)
            token = refreshed.refresh_token
            for _ in range(MEMORY_REFRESHES):
                request = pb.RefreshRequest(refresh_token=token)
                reply = client.stub.Refresh(request, timeout=CALL_TIMEOUT_S)
                token = reply.refresh_token
            sizes["typical_refreshed"].append(_user_bytes(r, refreshed.session.session_id))
            sizes["rate_limit_buckets"].append(_bucket_bytes(r, refreshed.session.session_id))
        found = {kind: round(statistics.mean(values), 1) for kind, values in sizes.items()}
        for kind in MEMORY_GROWTH_SESSIONS:
            live, expired = _growth_per_session(client, r, nodes, prefix, kind)
            found[f"{kind}_used_memory"] = expired
            found[f"{kind}_used_memory_with_buckets"] = live
    return found


MEMORY_TARGETS = {"minimal": 500, "typical_refreshed": 1024}
MEMORY_LABELS = {"minimal": "minimal", "typical": "typical", "typical_refreshed": "typical, refreshed 10x,"}
"""Most bytes per session."""


def memory_targets(memory: dict[str, float], topology: str = "standalone") -> list[Target]:
    """The memory targets with this run's values, by MEMORY USAGE and by ``used_memory``
    growth (rate-limit buckets deleted, as when they have expired)."""
    found = []
    for kind, limit in MEMORY_TARGETS.items():
        for how, value in (
            ("MEMORY USAGE", memory[kind]),
            ("used_memory growth", memory[f"{kind}_used_memory"]),
        ):
            found.append(
                Target(
                    f"{topology}: Redis bytes per {MEMORY_LABELS[kind]} session, {how}",
                    f"<= {limit}",
                    f"{value:.0f}",
                    f"typical (no refresh) {memory['typical']:.0f} by MEMORY USAGE; with rate buckets "
                    f"alive {memory[f'{kind}_used_memory_with_buckets']:.0f} by used_memory",
                    value <= limit,
                )
            )
    return found


def memory_table(memory: dict[str, float], topology: str) -> str:
    """Bytes per session by both methods."""
    return markdown_table(
        (
            f"Redis bytes per session, {topology}",
            "MEMORY USAGE of its keys",
            "used_memory growth",
            "with buckets alive",
        ),
        [
            [
                MEMORY_LABELS[kind].rstrip(","),
                f"{memory[kind]:.0f}",
                f"{memory[f'{kind}_used_memory']:.0f}" if f"{kind}_used_memory" in memory else "-",
                f"{memory[f'{kind}_used_memory_with_buckets']:.0f}"
                if f"{kind}_used_memory" in memory
                else "-",
            ]
            for kind in ("minimal", "typical", "typical_refreshed")
        ],
    )


def unwind_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the finally blocks stop every process started."""

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)


def _print_failed_logs(tmp: Path) -> None:
    # Runs as the temporary folder is left: on a failure, what the servers logged last.
    if sys.exc_info()[0] is None:
        return
    for log in sorted(tmp.glob("*.log")):
        tail = [line for line in _log_tail(log, 200).splitlines() if '"level": "INFO"' not in line]
        if tail:
            print(f"--- {log.name}\n" + "\n".join(tail[-15:]), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    options = _parse(argv)
    load, rpcs = options.load, options.rpcs
    if shutil.which("h2load") is None:
        print("rpc_throughput: h2load not found; install nghttp2-client", file=sys.stderr)
        return 2
    pinning = Pinning.detect()
    if not pinning.enabled:
        print("rpc_throughput: no taskset or fewer than 2 CPUs; running unpinned", file=sys.stderr)

    unwind_on_sigterm()
    rows: list[Row] = []
    paced: list[Paced] = []
    scaling: dict[str, list[tuple[int, Measurement]]] = {}
    shapes: list[Shape] = []
    memory: dict[str, dict[str, float]] = {}
    deployed_rpcs = [rpc for rpc in rpcs if rpc in TRACING_TARGETS]
    try:
        with tempfile.TemporaryDirectory(prefix="rpc-throughput-") as tmp, contextlib.ExitStack() as stack:
            stack.callback(_print_failed_logs, Path(tmp))
            h2load = H2Load(load, pinning, Path(tmp))
            sink = stack.enter_context(running_span_sink(pinning, Path(tmp))) if options.ratios else None
            if "standalone" in options.topologies:
                rows, paced = run(load, rpcs, pinning, Path(tmp))
                shapes.append(standalone_shape(rows, options.ratios, sink, h2load, Path(tmp)))
                memory["standalone"] = measure_memory(pinning, Path(tmp))
                scaling["standalone"] = measure_workers(load, pinning, Path(tmp))
            if "cluster" in options.topologies:
                with bench_cluster(pinning) as cluster:
                    shapes.append(
                        measure_cluster(options.ratios, sink, deployed_rpcs, h2load, Path(tmp), cluster)
                    )
                    memory["cluster"] = measure_memory(pinning, Path(tmp), cluster)
                    scaling["cluster"] = measure_workers(load, pinning, Path(tmp), cluster)
    except BenchmarkError as e:
        print(f"rpc_throughput: FAILED: {e}", file=sys.stderr)
        return 1
    found: list[Target] = []
    if rows:
        print(table(rows))
        print()
    for topology, sizes in memory.items():
        print(memory_table(sizes, topology))
        print(
            f"(plus, per user, its rate-limit buckets: {sizes['rate_limit_buckets']:.0f} bytes by "
            "MEMORY USAGE while the user created or refreshed in the last minute; they expire by themselves)"
        )
        print()
    for topology, measured in scaling.items():
        one = measured[0][1].req_per_s
        print(
            markdown_table(
                (f"Get, workers (unpinned), {topology}", "req/s", "p50 ms", "p99 ms", "vs 1 worker"),
                [
                    [
                        str(n),
                        f"{m.req_per_s:.0f}",
                        f"{m.p50_ms:.1f}",
                        f"{m.p99_ms:.1f}",
                        f"{m.req_per_s / one:.2f}",
                    ]
                    for n, m in measured
                ],
            )
        )
        print()
    for shape in shapes:
        print(shape_table(shape))
        print()
        found += shape_targets(shape)
    found = [*targets(rows, paced), *found]
    for topology, sizes in memory.items():
        found += memory_targets(sizes, topology)
    found += workers_targets(scaling)
    print(targets_table(found))
    options.json_path.parent.mkdir(parents=True, exist_ok=True)
    results = report(
        rows,
        load,
        pinning,
        paced,
        {
            "memory_bytes_per_session": memory,
            "workers_get": {
                topology: [{"workers": n, **asdict(m)} for n, m in measured]
                for topology, measured in scaling.items()
            },
            "shapes": [asdict(shape) for shape in shapes],
        },
    )
    results["targets"] = [asdict(t) for t in found]
    options.json_path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {options.json_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
