"""Traces, metrics and logs, observed from outside: spans arrive at a real OTLP receiver
over gRPC, /metrics is scraped over HTTP, logs are read from the running command."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import signal
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

from session_service.app import Service, start
from session_service.config import Settings
from session_service.domain.ids import parse_refresh_token
from session_service.store.embedded import RedisServerProcess
from session_service.tokens.keyring import Keyring
from tests.conftest import expect_error, free_port, refresh_token_keys_file

SERVICE = "session.v1.SessionService"
OTEL_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
)


# --- a real OTLP receiver -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ReceivedSpan:
    """A span as it arrived over OTLP, ids in hex."""

    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    status_code: int
    start_ns: int
    resource: dict[str, Any]


def _value(v: common_pb2.AnyValue) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def _attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


class OtlpReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    """Keeps every export request it gets."""

    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self.endpoint = ""

    async def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()

    def spans(self) -> list[ReceivedSpan]:
        out = []
        for request in self.requests:
            for rs in request.resource_spans:
                resource = _attributes(rs.resource.attributes)
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        out.append(
                            ReceivedSpan(
                                name=s.name,
                                kind=s.kind,
                                trace_id=s.trace_id.hex(),
                                span_id=s.span_id.hex(),
                                parent_span_id=s.parent_span_id.hex(),
                                attributes=_attributes(s.attributes),
                                status_code=s.status.code,
                                start_ns=s.start_time_unix_nano,
                                resource=resource,
                            )
                        )
        return sorted(out, key=lambda s: s.start_ns)

    def dump(self) -> tuple[str, bytes]:
        """Everything received, as protobuf text and as the bytes on the wire."""
        return (
            "\n".join(str(r) for r in self.requests),
            b"".join(r.SerializeToString() for r in self.requests),
        )

    async def wait_for(self, ready: Callable[[list[ReceivedSpan]], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not ready(self.spans()):
            assert time.monotonic() < deadline, f"spans never arrived; got {[s.name for s in self.spans()]}"
            await asyncio.sleep(0.05)


@pytest.fixture
async def otlp_receiver() -> AsyncIterator[OtlpReceiver]:
    """An OTLP/gRPC trace receiver on a loopback port, in this test's event loop."""
    receiver = OtlpReceiver()
    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    receiver.endpoint = f"http://127.0.0.1:{port}"
    yield receiver
    await server.stop(0)


def _clear_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _export_to(monkeypatch: pytest.MonkeyPatch, receiver: OtlpReceiver) -> None:
    _clear_otel_env(monkeypatch)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "session-service-under-test")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")


# --- services in this process ---------------------------------------------------------


@dataclasses.dataclass
class Started:
    service: Service
    channel: grpc.aio.Channel
    stub: Any


@pytest.fixture
async def launch(redis_server: RedisServerProcess, keyring: Keyring) -> AsyncIterator[Any]:
    """Starts services on the standalone test Redis, reading OTEL_* from the environment."""
    started: list[Started] = []

    async def factory(**overrides: Any) -> Started:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": 0,
            "redis_url": redis_server.url,
            "redis_prefix": f"tel{uuid.uuid4().hex[:8]}",
            "health_interval": 0.1,
            "redis_timeout": 2.0,
            "metrics_port": 0,
            "refresh_grace": 0,  # a second use of a refresh token is always reuse
            "refresh_token_keys_file": refresh_token_keys_file(),
            "allow_unauthenticated_callers": True,  # plaintext test servers, a real Redis
        }
        values.update(overrides)
        service = await start(Settings(**values), keyring=keyring)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.port}")
        s = Started(service, channel, session_pb2_grpc.SessionServiceStub(channel))
        started.append(s)
        return s

    yield factory
    for s in started:
        await s.channel.close()
        await s.service.stop(grace=0)


async def _flush(service: Service) -> None:
    assert service.telemetry is not None and service.telemetry.tracer_provider is not None
    await asyncio.to_thread(service.telemetry.tracer_provider.force_flush)


def _server_spans(spans: list[ReceivedSpan], method: str) -> list[ReceivedSpan]:
    return [
        s for s in spans if s.name == f"/{SERVICE}/{method}" and s.kind == trace_pb2.Span.SPAN_KIND_SERVER
    ]


def _children(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    return [s for s in spans if s.parent_span_id == parent.span_id and s.trace_id == parent.trace_id]


# --- traces ---------------------------------------------------------------------------


async def test_each_rpc_is_a_server_span_with_a_child_span_per_redis_script_and_its_outcome(
    monkeypatch: pytest.MonkeyPatch,
    otlp_receiver: OtlpReceiver,
    launch: Any,
    redis_server: RedisServerProcess,
) -> None:
    _export_to(monkeypatch, otlp_receiver)
    s = await launch()
    first = await s.stub.Create(pb.CreateRequest(user_id="tracy", data={"k": b"v"}))
    refreshed = await s.stub.Refresh(pb.RefreshRequest(refresh_token=first.refresh_token))
    revoked = await s.stub.Revoke(pb.RevokeRequest(refresh_token=refreshed.refresh_token))
    assert revoked.revoked_count == 1
    second = await s.stub.Create(pb.CreateRequest(user_id="tracy"))
    await s.stub.Refresh(pb.RefreshRequest(refresh_token=second.refresh_token))
    async with expect_error(grpc.StatusCode.UNAUTHENTICATED, "REFRESH_TOKEN_REUSED"):
        await s.stub.Refresh(pb.RefreshRequest(refresh_token=second.refresh_token))
    await _flush(s.service)
    await otlp_receiver.wait_for(lambda spans: len(_server_spans(spans, "Refresh")) == 3)
    spans = otlp_receiver.spans()

    creates, refreshes, revokes = (_server_spans(spans, m) for m in ("Create", "Refresh", "Revoke"))
    assert (len(creates), len(refreshes), len(revokes)) == (2, 3, 1)
    expected = [
        (creates[0], "create", "OK", 0),
        (refreshes[0], "rotate", "OK", 0),
        (revokes[0], "revoke", "OK", 0),
        (creates[1], "create", "OK", 0),
        (refreshes[1], "rotate", "OK", 0),
        (refreshes[2], "rotate", "REFRESH_TOKEN_REUSED", grpc.StatusCode.UNAUTHENTICATED.value[0]),
    ]
    for server, script, outcome, code in expected:
        assert server.parent_span_id == "", "with no caller context each call starts a trace"
        assert server.resource["service.name"] == "session-service-under-test"
        a = server.attributes
        assert (a["rpc.system"], a["rpc.service"]) == ("grpc", SERVICE)
        assert a["rpc.method"] == server.name.rsplit("/", 1)[1]
        assert (a["session.outcome"], a["rpc.grpc.status_code"]) == (outcome, code)
        # A caller's mistake is not a server error.
        assert server.status_code != trace_pb2.Status.STATUS_CODE_ERROR
        children = _children(spans, server)
        # The call's script, maybe after or before others (an outbox note before a revoke).
        assert script in [c.attributes.get("session.redis.script") for c in children]
        for redis in children:
            # One span per round trip of the lane, with the database client conventions'
            # attributes and never a key or an argument.
            r = redis.attributes
            name = r["session.redis.script"]
            assert redis.kind == trace_pb2.Span.SPAN_KIND_CLIENT
            assert redis.name == f"EVALSHA {name}"
            assert (r["db.system"], r["db.operation"], r["db.operation.name"]) == (
                "redis",
                "EVALSHA",
                "EVALSHA",
            )
            assert (r["server.address"], r["server.port"]) == ("127.0.0.1", redis_server.port)
            assert (r["db.redis.database_index"], r["db.namespace"]) == (0, "0")
            assert not {"db.statement", "db.query.text"} & r.keys()
    assert revokes[0].attributes["session.revoked_count"] == 1
    assert refreshes[0].attributes["session.found"] is True
    # Health checks run every 0.1 s against the same Redis, yet leave no spans.
    server_ids = {x.span_id for x in spans if x.kind == trace_pb2.Span.SPAN_KIND_SERVER}
    assert all(x.parent_span_id in server_ids for x in spans if x.kind == trace_pb2.Span.SPAN_KIND_CLIENT)
    assert not [x for x in spans if "Health" in x.name or x.name == "PING"]


async def test_traceparent_from_the_caller_becomes_the_parent_of_the_server_span(
    monkeypatch: pytest.MonkeyPatch, otlp_receiver: OtlpReceiver, launch: Any
) -> None:
    _export_to(monkeypatch, otlp_receiver)
    s = await launch()
    created = await s.stub.Create(pb.CreateRequest(user_id="traced"))
    await s.stub.Revoke(pb.RevokeRequest(session_id=created.session.session_id))
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    metadata = (("traceparent", f"00-{trace_id}-{parent_id}-01"),)
    async with expect_error(grpc.StatusCode.NOT_FOUND, "SESSION_NOT_FOUND"):
        await s.stub.Get(pb.GetRequest(session_id=created.session.session_id), metadata=metadata)
    await _flush(s.service)
    await otlp_receiver.wait_for(lambda spans: bool(_server_spans(spans, "Get")))
    spans = otlp_receiver.spans()
    (server,) = _server_spans(spans, "Get")
    assert (server.trace_id, server.parent_span_id) == (trace_id, parent_id)
    assert server.attributes["session.outcome"] == "SESSION_NOT_FOUND"
    assert server.attributes["session.found"] is False
    assert server.attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert _children(spans, server)[0].attributes["session.redis.script"] == "touch"


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "RECEIVER", "OTEL_SDK_DISABLED": "true"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "RECEIVER", "OTEL_TRACES_EXPORTER": "none"},
    ],
    ids=["no-endpoint", "sdk-disabled", "exporter-none"],
)
async def test_with_tracing_off_nothing_is_instrumented_and_no_span_is_sent(
    monkeypatch: pytest.MonkeyPatch, otlp_receiver: OtlpReceiver, launch: Any, env: dict[str, str]
) -> None:
    _clear_otel_env(monkeypatch)
    for name, value in env.items():
        monkeypatch.setenv(name, otlp_receiver.endpoint if value == "RECEIVER" else value)
    s = await launch()
    telemetry = s.service.telemetry
    assert telemetry is not None
    assert telemetry.tracer_provider is None and not telemetry.tracing
    assert not hasattr(s.service.store.client.execute_command, "__wrapped__"), "Redis client was wrapped"
    traceparent = (("traceparent", f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"),)
    created = await s.stub.Create(pb.CreateRequest(user_id="dark"), metadata=traceparent)
    await s.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token), metadata=traceparent)
    await s.service.stop(grace=0)  # would flush any buffered span
    await asyncio.sleep(0.2)
    assert otlp_receiver.requests == []


# --- metrics --------------------------------------------------------------------------


async def _scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    def get() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            body: bytes = reply.read()
            return body.decode()

    text = await asyncio.to_thread(get)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _sample(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((f"session_service_{name}", frozenset(labels.items())), 0.0)


async def test_metrics_endpoint_counts_calls_sessions_reuse_in_flight_and_redis_errors(
    monkeypatch: pytest.MonkeyPatch, launch: Any, redis_server: RedisServerProcess
) -> None:
    _clear_otel_env(monkeypatch)
    port = free_port()
    s = await launch(metrics_port=port)
    a = await s.stub.Create(pb.CreateRequest(user_id="metered"))
    await s.stub.Create(pb.CreateRequest(user_id="metered"))
    await s.stub.Refresh(pb.RefreshRequest(refresh_token=a.refresh_token))
    async with expect_error(grpc.StatusCode.UNAUTHENTICATED, "REFRESH_TOKEN_REUSED"):
        await s.stub.Refresh(pb.RefreshRequest(refresh_token=a.refresh_token))
    async with expect_error(grpc.StatusCode.NOT_FOUND, "SESSION_NOT_FOUND"):
        await s.stub.Get(pb.GetRequest(session_id=a.session.session_id))
    assert (await s.stub.Revoke(pb.RevokeRequest(user_id="metered"))).revoked_count == 1

    m = await _scrape(port)
    assert _sample(m, "sessions_created_total") == 2
    assert _sample(m, "sessions_refreshed_total") == 1
    assert _sample(m, "refresh_token_reuse_detected_total") == 1
    assert _sample(m, "sessions_revoked_total", cause="refresh_token_reuse") == 1
    assert _sample(m, "sessions_revoked_total", cause="revoke") == 1
    count = "rpc_duration_seconds_count"
    assert _sample(m, count, method="Create", code="OK") == 2
    assert _sample(m, count, method="Refresh", code="OK") == 1
    assert _sample(m, count, method="Refresh", code="UNAUTHENTICATED") == 1
    assert _sample(m, count, method="Get", code="NOT_FOUND") == 1
    assert _sample(m, count, method="Revoke", code="OK") == 1
    assert _sample(m, "rpc_duration_seconds_bucket", method="Create", code="OK", le="+Inf") == 2
    assert _sample(m, "rpc_duration_seconds_sum", method="Create", code="OK") > 0
    assert _sample(m, "rpc_in_flight", method="Create") == 0
    assert ("process_cpu_seconds_total", frozenset()) in m
    assert _sample(m, "revocation_relay_lagging") == 0  # every event reached the stream
    assert _sample(m, "revocation_events_recovered_total") == 0  # the fast path relayed them all

    # A call held up by a paused Redis is in flight until Redis answers.
    raw = Redis.from_url(redis_server.url)
    try:
        await raw.client_pause(800)
        held = asyncio.ensure_future(s.stub.List(pb.ListRequest(user_id="metered")))
        deadline = time.monotonic() + 5
        while _sample(await _scrape(port), "rpc_in_flight", method="List") != 1:
            assert time.monotonic() < deadline, "the held call never showed as in flight"
            await asyncio.sleep(0.02)
        await held
        assert _sample(await _scrape(port), "rpc_in_flight", method="List") == 0
    finally:
        await raw.client_unpause()
        await raw.aclose()

    # Redis errors, by the client's error class, from a service whose Redis is gone.
    dead_port = free_port()
    down = await launch(metrics_port=free_port(), redis_url=f"redis://127.0.0.1:{dead_port}")
    async with expect_error(grpc.StatusCode.UNAVAILABLE, "STORE_UNAVAILABLE"):
        await down.stub.Create(pb.CreateRequest(user_id="nobody"))
    assert down.service.telemetry is not None
    m = await _scrape(down.service.telemetry.metrics_port)
    assert _sample(m, "redis_errors_total", error="ConnectionError") == 1
    assert _sample(m, count, method="Create", code="UNAVAILABLE") == 1


# --- the command: JSON logs, and no secret anywhere -----------------------------------


async def _wait_serving(port: int, process: asyncio.subprocess.Process, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            assert process.returncode is None, "the service exited"
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            assert time.monotonic() < deadline, "service did not become SERVING"
            await asyncio.sleep(0.1)


async def _full_flow(stub: Any) -> list[str]:
    """Every RPC, with secret-looking data; returns every secret the flow saw or sent."""
    data_value, claim_value = f"data-{secrets.token_hex(12)}", f"claim-{secrets.token_hex(12)}"
    new_data, bogus = f"newdata-{secrets.token_hex(12)}", f"bogus-{secrets.token_hex(12)}"
    created = await stub.Create(
        pb.CreateRequest(
            user_id="leaky",
            claims={"tenant": claim_value},
            data={"cart": data_value.encode()},
            scopes=["read"],
        )
    )
    sid = created.session.session_id
    await stub.Get(pb.GetRequest(session_id=sid))
    await stub.Update(pb.UpdateRequest(session_id=sid, set={"cart": new_data.encode()}))
    await stub.Introspect(pb.IntrospectRequest(token=created.access_token))
    await stub.Introspect(pb.IntrospectRequest(token=created.refresh_token, token_type_hint="refresh_token"))
    await stub.Introspect(pb.IntrospectRequest(token=bogus))
    refreshed = await stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    async with expect_error(grpc.StatusCode.UNAUTHENTICATED, "REFRESH_TOKEN_REUSED"):
        await stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    again = await stub.Create(pb.CreateRequest(user_id="leaky", data={"cart": data_value.encode()}))
    await stub.List(pb.ListRequest(user_id="leaky"))
    await stub.Revoke(pb.RevokeRequest(access_token=again.access_token))
    async with expect_error(grpc.StatusCode.UNAUTHENTICATED, "REFRESH_TOKEN_INVALID"):
        await stub.Refresh(pb.RefreshRequest(refresh_token=again.refresh_token))
    secret_values = [data_value, claim_value, new_data, bogus]
    for issued in (created, refreshed, again):
        _header, payload, signature = issued.access_token.split(".")
        secret_values += [issued.access_token, payload, signature]
        parsed = parse_refresh_token(issued.refresh_token)
        assert parsed is not None
        # The token, its secret, and the hash Redis keeps (an ARGV of the scripts).
        secret_values += [issued.refresh_token, issued.refresh_token.rsplit(".", 1)[1], parsed.secret_hash]
    return secret_values


async def test_full_flow_logs_json_with_trace_ids_and_no_span_or_log_line_holds_a_secret(
    otlp_receiver: OtlpReceiver, redis_server: RedisServerProcess, tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(
        {
            "SESSION_HOST": "127.0.0.1",
            "SESSION_PORT": str(port),
            "SESSION_REDIS_URL": redis_server.url,
            "SESSION_DEV": "true",
            "SESSION_REDIS_PREFIX": f"tel{uuid.uuid4().hex[:8]}",
            "SESSION_METRICS_PORT": "0",
            "SESSION_LOG_LEVEL": "DEBUG",
            "SESSION_REFRESH_GRACE": "0",
            "SESSION_SHUTDOWN_GRACE": "1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "50",
        }
    )
    log_path = tmp_path / "service.log"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "session_service", "serve", env=env, stdout=log_file, stderr=log_file
        )
    try:
        await _wait_serving(port, process)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            secret_values = await _full_flow(session_pb2_grpc.SessionServiceStub(channel))
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    await otlp_receiver.wait_for(lambda spans: len(_server_spans(spans, "Refresh")) == 3)
    spans = otlp_receiver.spans()
    assert spans[0].resource["service.name"] == "session-service"
    output = log_path.read_text()
    lines = output.splitlines()
    everything = [json.loads(line) for line in lines]  # every line is one JSON object
    # Audit events (session_service.audit) are objects of their own schema; the rest are logs.
    audit = [e for e in everything if "event" in e]
    assert audit and all({"event", "time", "caller"} <= e.keys() for e in audit)
    entries = [e for e in everything if "event" not in e]
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
    assert any(e["message"].startswith("session-service listening") for e in entries)
    assert not [e for e in entries if e["level"] in ("WARNING", "ERROR") and "OTLP" in e["message"]]

    # The per-call debug lines carry the ids of the call's server span.
    server_spans = {(s.trace_id, s.span_id): s for s in spans if s.kind == trace_pb2.Span.SPAN_KIND_SERVER}
    call_lines = [e for e in entries if "rpc_method" in e]
    assert len(call_lines) == len(server_spans) == 12
    for e in call_lines:
        span = server_spans[(e["trace_id"], e["span_id"])]
        assert span.attributes["rpc.method"] == e["rpc_method"]
        assert span.attributes["session.outcome"] == e["outcome"]

    text, wire = otlp_receiver.dump()
    for secret in secret_values:
        assert secret not in output, "a secret reached the logs"
        assert secret not in text and secret.encode() not in wire, "a secret reached a span"
