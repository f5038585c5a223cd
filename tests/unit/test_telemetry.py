"""When tracing turns on, and what a JSON log line holds (audit events' included)."""

from __future__ import annotations

import io
import json
import logging
import random
import sys
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Decision, ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import generate_latest

from session_service.audit import AUDIT_EVENT_ATTRIBUTE, AUDIT_LOGGER_NAME, AuditLog
from session_service.domain.ids import new_session_id
from session_service.errors import ConfigError
from session_service.metrics import ServiceMetrics
from session_service.telemetry import (
    CallTracer,
    JsonLogFormatter,
    RedisRoundTrips,
    _sampling,
    configure_logging,
    tracing_enabled,
)


@pytest.mark.parametrize(
    ("environ", "enabled"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4317/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, False),
        ({"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp"}, False),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "otlp"}, True),
    ],
)
def test_tracing_is_on_only_when_otlp_export_is_asked_for_and_the_sdk_is_enabled(
    environ: dict[str, str], enabled: bool
) -> None:
    assert tracing_enabled(environ) is enabled


def _record(message: str, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("session_service.test")
    return logger.makeRecord(logger.name, logging.WARNING, __file__, 1, message, (), None, extra=extra)


def test_json_log_line_has_time_level_logger_message_and_extra_fields_on_one_line() -> None:
    line = JsonLogFormatter().format(_record("two\nlines", rpc_method="Get"))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "session_service.test"
    assert entry["message"] == "two\nlines"
    assert entry["rpc_method"] == "Get"
    assert entry["time"].endswith("Z")
    assert "trace_id" not in entry and "span_id" not in entry


def test_json_log_line_carries_the_ids_of_the_active_span() -> None:
    tracer = TracerProvider().get_tracer("test")  # a private provider: nothing global changes
    with tracer.start_as_current_span("work") as span:
        entry = json.loads(JsonLogFormatter().format(_record("inside")))
    context = span.get_span_context()
    assert entry["trace_id"] == trace.format_trace_id(context.trace_id)
    assert entry["span_id"] == trace.format_span_id(context.span_id)


def test_json_log_line_includes_the_exception_text() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logger = logging.getLogger("session_service.test")
        record = logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(JsonLogFormatter().format(record))
    assert "ValueError: boom" in entry["exception"]


@pytest.fixture
def configured_logging() -> Iterator[io.StringIO]:
    """configure_logging writing to a string; the logging setup is restored afterwards."""
    root, audit = logging.getLogger(), logging.getLogger(AUDIT_LOGGER_NAME)
    saved = (root.handlers[:], root.level, audit.handlers[:], audit.level, audit.propagate)
    stream = io.StringIO()
    configure_logging("WARNING", stream)
    try:
        yield stream
    finally:
        logging.captureWarnings(False)
        root.handlers[:], audit.handlers[:], audit.propagate = saved[0], saved[2], saved[4]
        root.setLevel(saved[1])
        audit.setLevel(saved[3])


def test_audit_events_and_other_lines_share_one_json_format(configured_logging: io.StringIO) -> None:
    logging.getLogger("session_service.test").warning("plain %s", "line")
    session_id = str(new_session_id("alice"))
    # Written although the log level is WARNING: the audit trail does not depend on it.
    AuditLog().session_created("spiffe://shop/login", "alice", session_id, None)
    plain, event = [json.loads(line) for line in configured_logging.getvalue().splitlines()]
    assert plain.keys() >= {"time", "level", "logger", "message"}
    assert event.keys() >= {"time", "level", "logger", "message"}
    assert (plain["logger"], plain["message"]) == ("session_service.test", "plain line")
    assert (event["level"], event["logger"]) == ("INFO", AUDIT_LOGGER_NAME)
    # The event's fields stand beside the message, not inside it as a string.
    assert event["message"] == event["event"] == "session_created"
    assert event["session_id"] == session_id and event["caller"] == "spiffe://shop/login"
    assert event["client_id"] is None and AUDIT_EVENT_ATTRIBUTE not in event
    assert event["time"].endswith("Z")


def test_rpc_latency_buckets_are_cumulative_with_each_bound_inclusive() -> None:
    metrics = ServiceMetrics()
    for seconds in (0.001, 0.0011, 0.3, 60.0):  # on a bound, just above it, mid-range, past the last
        metrics.rpcs.latency("Get", "OK").observe(seconds)
    metrics.rpcs.in_flight("Get").value += 2
    text = generate_latest(metrics.registry).decode()

    def sample(name: str, **labels: str) -> float:
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in text.splitlines():
            if line.startswith(f"session_service_{name}{{{wanted}}} "):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"no sample {name} {labels} in:\n{text}")

    bucket = "rpc_duration_seconds_bucket"
    assert sample(bucket, code="OK", le="0.001", method="Get") == 1
    assert sample(bucket, code="OK", le="0.0025", method="Get") == 2
    assert sample(bucket, code="OK", le="0.25", method="Get") == 2
    assert sample(bucket, code="OK", le="0.5", method="Get") == 3
    assert sample(bucket, code="OK", le="10.0", method="Get") == 3
    assert sample(bucket, code="OK", le="+Inf", method="Get") == 4
    assert sample("rpc_duration_seconds_count", code="OK", method="Get") == 4
    assert sample("rpc_duration_seconds_sum", code="OK", method="Get") == pytest.approx(60.3021)
    assert sample("rpc_in_flight", method="Get") == 2


@pytest.mark.parametrize(
    ("name", "arg", "kind"),
    [
        ("", "", ParentBased),
        ("parentbased_traceidratio", "0.1", ParentBased),
        ("traceidratio", "0.37", TraceIdRatioBased),
        ("always_off", "", type(ALWAYS_OFF)),
        ("parentbased_always_off", "", ParentBased),
    ],
)
def test_a_call_without_a_parent_is_decided_as_the_sampler_would_decide_it(
    name: str, arg: str, kind: type
) -> None:
    # CallTracer decides such calls by the bound alone, without asking the sampler: the
    # two must agree for every trace id, or spans would go missing (or start unsampled).
    sampler, bound = _sampling({"OTEL_TRACES_SAMPLER": name, "OTEL_TRACES_SAMPLER_ARG": arg})
    assert sampler is not None and isinstance(sampler, kind) and bound is not None
    rng = random.Random(7)
    ids = [rng.getrandbits(128) or 1 for _ in range(5000)]
    ids += [bound - 1, bound, bound + 1, TraceIdRatioBased.TRACE_ID_LIMIT, (1 << 127) | max(bound - 1, 0)]
    for trace_id in ids:
        trace_id &= (1 << 128) - 1
        if not trace_id:
            continue
        sampled = sampler.should_sample(None, trace_id, "m").decision is Decision.RECORD_AND_SAMPLE
        assert sampled == ((trace_id & TraceIdRatioBased.TRACE_ID_LIMIT) < bound), (name, trace_id)


def test_a_sampler_the_sdk_loads_by_name_is_asked_for_every_call() -> None:
    assert _sampling({"OTEL_TRACES_SAMPLER": "xray"}) == (None, None)


@pytest.mark.parametrize("arg", ["two", "1.5", "-0.1", "nan"])
def test_a_ratio_that_is_not_one_refuses_to_start(arg: str) -> None:
    with pytest.raises(ConfigError, match="OTEL_TRACES_SAMPLER_ARG"):
        _sampling({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": arg})


def test_a_round_trip_span_is_a_client_child_of_the_sampled_call_with_its_error_class_only() -> None:
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider = TracerProvider(resource=Resource.create({"service.name": "round-trips"}))
    provider.add_span_processor(processor)
    round_trips = RedisRoundTrips(provider, processor)
    assert round_trips.start("GET", "GET", ("127.0.0.1", 6379), 0, 1) is None  # no call at all
    parent = TraceContextTextMapPropagator().extract(
        {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "v=1"}
    )
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("call", parent) as call:
        ok = round_trips.start("EVALSHA get", "EVALSHA", ("127.0.0.1", 6379), 2, 1)
        failed = round_trips.start("", "HMGET", ("10.0.0.7", 7000), None, 3)
        assert ok is not None and failed is not None
        round_trips.end(failed, ConnectionError("reply quoting secret-value"))
        round_trips.end(ok, None)
        again = round_trips.start("", "HMGET", ("10.0.0.7", 7000), None, 3)  # the same kind: reused
        assert again is not None
        round_trips.end(again, None)
    unsampled = TraceContextTextMapPropagator().extract(
        {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"}
    )
    token = otel_context.attach(unsampled)
    try:
        assert round_trips.start("GET", "GET", ("127.0.0.1", 6379), 0, 1) is None
    finally:
        otel_context.detach(token)
    finished = exporter.get_finished_spans()
    # The second HMGET's attributes were built once with the first's, not shared with it.
    assert [dict(s.attributes or {}).get("error.type") for s in finished if s.name == "HMGET"] == [
        "ConnectionError",
        None,
    ]
    spans = {span.name: span for span in finished}
    call_context = call.get_span_context()
    for name in ("EVALSHA get", "HMGET"):
        span = spans[name]
        context = span.get_span_context()
        assert context is not None and span.parent is not None
        assert span.kind is SpanKind.CLIENT
        assert span.parent.span_id == call_context.span_id
        assert context.trace_id == call_context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
        assert context.span_id not in (0, call_context.span_id)
        assert context.trace_flags.sampled and context.trace_state == call_context.trace_state
        assert span.resource is provider.resource
        assert span.start_time is not None and span.end_time is not None
        assert span.start_time <= span.end_time
    assert dict(spans["EVALSHA get"].attributes or {}) == {
        "db.system": "redis",
        "db.system.name": "redis",
        "db.operation": "EVALSHA",
        "db.operation.name": "EVALSHA",
        "server.address": "127.0.0.1",
        "server.port": 6379,
        "db.redis.database_index": 2,
        "db.namespace": "2",
        "session.redis.script": "get",
    }
    assert spans["EVALSHA get"].status.status_code is StatusCode.UNSET
    failed_span = next(span for span in finished if span.name == "HMGET")
    assert failed_span.attributes is not None
    assert failed_span.attributes["error.type"] == "ConnectionError"
    assert failed_span.attributes["db.operation.batch.size"] == 3
    assert "db.namespace" not in failed_span.attributes
    assert (failed_span.status.status_code, failed_span.status.description) == (
        StatusCode.ERROR,
        "ConnectionError",
    )
    assert "secret-value" not in repr(dict(failed_span.attributes))
    assert len(exporter.get_finished_spans()) == 4


class _Call:
    """What CallTracer reads of a grpc.aio call: its metadata and peer."""

    def __init__(self, *metadata: tuple[str, str]) -> None:
        self._metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def peer(self) -> str:
        return "ipv6:[::1]:43210"


def _CallContext(*metadata: tuple[str, str]) -> Any:
    return _Call(*metadata)


def _call_tracer(sampler: str = "parentbased_always_on") -> tuple[CallTracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    sampling, bound = _sampling({"OTEL_TRACES_SAMPLER": sampler})
    provider = TracerProvider(resource=Resource.create({"service.name": "calls"}), sampler=sampling)
    provider.add_span_processor(processor)
    tracer = CallTracer(provider, processor, bound)
    tracer.listening("0.0.0.0", 50051)
    return tracer, exporter


def test_a_call_span_continues_the_callers_trace_and_is_current_until_the_call_finishes() -> None:
    tracer, exporter = _call_tracer()
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    before = trace.get_current_span()
    span = tracer.start(
        "/session.v1.SessionService/Get", _CallContext(("traceparent", parent), ("tracestate", "v=1"))
    )
    assert span is not None
    assert trace.get_current_span() is span and span.is_recording()
    span.set_attributes({"session.found": True})
    span.finish(grpc.StatusCode.OK, "OK")
    assert trace.get_current_span() is before and not span.is_recording()
    # A second call of the method on the connection starts from its attributes, not the first's.
    second = tracer.start("/session.v1.SessionService/Get", _CallContext(("traceparent", parent)))
    assert second is not None
    second.finish(grpc.StatusCode.NOT_FOUND, "SESSION_NOT_FOUND")
    found = exporter.get_finished_spans()[1].attributes or {}
    assert "session.found" not in found and found["session.outcome"] == "SESSION_NOT_FOUND"
    assert found["network.peer.port"] == 43210
    span.set_attribute("late", 1)  # after the end: ignored
    span.end()  # a second end hands nothing over
    finished, _ = exporter.get_finished_spans()  # the first call's, ended once
    context = finished.get_span_context()
    assert context is not None and finished.parent is not None
    assert context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert finished.parent.span_id == 0xB7AD6B7169203331 and finished.parent.is_remote
    assert context.trace_state.get("v") == "1" and context.trace_flags.sampled
    assert finished.kind is SpanKind.SERVER and finished.name == "/session.v1.SessionService/Get"
    assert dict(finished.attributes or {}) == {
        "rpc.system": "grpc",
        "rpc.service": "session.v1.SessionService",
        "rpc.method": "Get",
        "server.port": 50051,
        "network.transport": "tcp",
        "network.type": "ipv6",
        "network.peer.address": "::1",
        "network.peer.port": 43210,
        "session.found": True,
        "rpc.grpc.status_code": 0,
        "session.outcome": "OK",
    }
    assert finished.status.status_code is StatusCode.UNSET
    assert finished.start_time is not None and finished.end_time is not None
    assert finished.start_time <= finished.end_time


def test_a_call_the_sampler_drops_gets_no_span_and_a_root_call_a_trace_of_its_own() -> None:
    tracer, exporter = _call_tracer()
    unsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
    assert tracer.start("/session.v1.SessionService/Get", _CallContext(("traceparent", unsampled))) is None
    roots = [tracer.start("/session.v1.SessionService/Create", _CallContext()) for _ in range(2)]
    for root in reversed(roots):
        assert root is not None
        root.finish(grpc.StatusCode.INTERNAL, "INTERNAL")
    spans = exporter.get_finished_spans()
    assert len(spans) == 2 and all(span.parent is None for span in spans)
    trace_ids = {span.get_span_context().trace_id for span in spans}  # type: ignore[union-attr]
    assert len(trace_ids) == 2 and 0 not in trace_ids
    assert all(span.status.status_code is StatusCode.ERROR for span in spans)  # a server fault
    never, _ = _call_tracer("always_off")
    assert never.start("/session.v1.SessionService/Get", _CallContext()) is None


def test_a_call_span_keeps_events_checked_as_the_sdk_checks_them_and_no_exception_text() -> None:
    tracer, exporter = _call_tracer()
    span = tracer.start("/session.v1.SessionService/Revoke", _CallContext())
    assert span is not None
    given: dict[str, Any] = {"user_id": "u-1", "count": 2, "odd": object()}
    span.add_event("session.revoked", given)
    span.record_exception(ValueError("token eyJsecret"))
    for n in range(200):  # a runaway loop keeps no more events than the SDK would
        span.add_event(f"extra {n}")
    span.set_status(StatusCode.OK)
    span.set_status(Status(StatusCode.ERROR, "later"))  # OK is final, as in the SDK
    span.update_name("renamed")
    span.finish(grpc.StatusCode.NOT_FOUND, "SESSION_NOT_FOUND")
    (finished,) = exporter.get_finished_spans()
    assert finished.name == "renamed" and finished.status.status_code is StatusCode.OK
    revoked, exception, *extra = finished.events
    assert len(extra) == 126
    assert revoked.name == "session.revoked"
    # The SDK's checks: a value of no attribute type is not kept, as on an SDK span.
    assert dict(revoked.attributes or {}) == dict(BoundedAttributes(attributes=given, immutable=True))
    assert revoked.attributes is not None and revoked.attributes["odd"] is None
    assert (exception.name, dict(exception.attributes or {})) == (
        "exception",
        {"exception.type": "ValueError"},
    )
    assert "eyJsecret" not in repr(finished.to_json())


def test_a_call_span_ended_at_a_given_time_keeps_that_time() -> None:
    tracer, exporter = _call_tracer()
    span = tracer.start("/session.v1.SessionService/Get", _CallContext())
    assert span is not None
    span.end(end_time=1_000)
    (finished,) = exporter.get_finished_spans()
    assert finished.end_time == 1_000
