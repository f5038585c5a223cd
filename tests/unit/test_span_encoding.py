"""The fast OTLP span encoding writes the very request the SDK's own encoder writes.

Spans are made by the real SDK (tracer providers, samplers, limits, a W3C parent
extracted from a traceparent); the reference is the SDK's public ``encode_spans``; the
exporter is exercised over a real gRPC channel to an OTLP trace receiver on loopback."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from concurrent import futures
from typing import Any

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from session_service import span_encoding
from session_service.span_encoding import FastOtlpSpanExporter, encode_request
from session_service.telemetry import RedisRoundTrips, _span_exporter


class _Kept(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def _provider(kept: _Kept, resource: Resource | None = None, **limits: Any) -> TracerProvider:
    provider = TracerProvider(
        resource=resource or Resource.create({"service.name": "session-service"}),
        span_limits=SpanLimits(**limits) if limits else None,
    )
    provider.add_span_processor(SimpleSpanProcessor(kept))
    return provider


def _assert_same(spans: Sequence[ReadableSpan]) -> None:
    assert encode_request(spans) == encode_spans(spans)


def test_the_services_own_spans_encode_as_the_sdk_encodes_them() -> None:
    kept = _Kept()
    provider = _provider(kept)
    tracer = provider.get_tracer("session_service")
    round_trips = RedisRoundTrips(provider, SimpleSpanProcessor(kept))
    for method, status in (("Get", None), ("Create", Status(StatusCode.ERROR, "REDIS_UNAVAILABLE"))):
        span = tracer.start_span(
            f"/session.v1.SessionService/{method}",
            otel_context.Context(),
            SpanKind.SERVER,
            {"rpc.system": "grpc", "rpc.method": method, "network.peer.port": 40001, "server.port": 50051},
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        child = round_trips.start("EVALSHA get", "EVALSHA", ("127.0.0.1", 6379), 0, 3)
        assert child is not None
        round_trips.end(child, ConnectionError() if status else None)
        span.set_attribute("session.found", True)
        if status is not None:
            span.set_status(status)
        span.end()
        otel_context.detach(token)
    assert len(kept.spans) == 4
    _assert_same(kept.spans)


def test_remote_parents_trace_state_every_kind_and_unusual_values_encode_as_the_sdks() -> None:
    kept = _Kept()
    tracer = _provider(kept).get_tracer("scope", "1.2", schema_url="https://opentelemetry.io/schemas/1.26.0")
    parent = TraceContextTextMapPropagator().extract(
        {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "a=1,b=two"}
    )
    values: dict[str, Any] = {
        "t": True,
        "f": False,
        "zero": 0,
        "negative": -5,
        "big": 2**63 - 1,
        "smallest": -(2**63),
        "float": 1.5,
        "negative zero": -0.0,
        "infinite": math.inf,
        "empty": "",
        "unicode": "s\u00e9ance \U0001f510",
    }
    for kind in SpanKind:
        tracer.start_span(f"span {kind.name}", parent, kind, values).end()
    for zero in (0.0, -0.0, 0, False):  # equal values of one key, each written as itself
        tracer.start_span("zero", parent, attributes={"zero": zero}).end()
    ok = tracer.start_span("", parent)  # no name at all
    ok.set_status(Status(StatusCode.OK))
    ok.end()
    instant = tracer.start_span("instant", otel_context.Context(), start_time=1_000)
    instant.set_status(Status(StatusCode.ERROR))
    instant.end(end_time=1_000)
    _assert_same(kept.spans)


def test_events_and_what_the_fast_path_leaves_to_the_sdk_encode_as_the_sdks() -> None:
    kept = _Kept()
    tracer = _provider(kept, max_attributes=2, max_events=1, max_links=1).get_tracer("scope")
    with tracer.start_as_current_span("events", attributes={"a": 1, "b": 2, "c": 3}) as span:
        span.add_event("first", {"n": 1})
        span.add_event("second")  # dropped: over the limit
    linked = trace.get_current_span().get_span_context()
    tracer.start_span("arrays", attributes={"ports": [1, 2], "names": ("x", "y")}).end()
    other = kept.spans[0].get_span_context()
    assert other is not None
    tracer.start_span("links", links=[Link(other, {"why": "follows"}), Link(linked)]).end()
    tracer.start_span("plain", attributes={"a": 1}).end()
    with tracer.start_as_current_span("event arrays") as span:
        span.add_event("list", {"ports": [1, 2], "nothing": None}, timestamp=0)
        span.add_event("map", {"limits": {"max": 3, "kind": "cap"}})
        span.set_attribute("labels", {"team": "auth"})
    with tracer.start_as_current_span("audited") as span:
        span.add_event("session.created", {"user": "u-1", "sessions": 3, "mfa": True, "c": 0.5})
        span.add_event("", timestamp=5)
    assert (kept.spans[0].dropped_attributes, kept.spans[0].dropped_events) == (1, 1)
    _assert_same(kept.spans)


def test_spans_of_several_resources_and_scopes_group_as_the_sdk_groups_them() -> None:
    kept = _Kept()
    one = _provider(kept, Resource.create({"service.name": "one"}))
    two = _provider(kept, Resource.create({"service.name": "two"}))
    # The same resource held by a second, equal object (a second provider) and a scope
    # asked for twice: one group each, as in the SDK's encoding.
    again = _provider(kept, Resource.create({"service.name": "one"}))
    for provider, scope in ((one, "a"), (two, "a"), (one, "b"), (again, "a"), (one, "a"), (two, "b")):
        provider.get_tracer(scope).start_span(f"{scope} span").end()
    request = encode_request(kept.spans)
    assert [len(r.scope_spans) for r in request.resource_spans] == [2, 2]
    _assert_same(kept.spans)


_ATTRIBUTE_VALUES = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=80),
    st.lists(st.integers(min_value=0, max_value=2**31), max_size=3),
)


@settings(max_examples=150, deadline=None)
@given(
    attributes=st.dictionaries(st.text(min_size=1, max_size=20), _ATTRIBUTE_VALUES, max_size=8),
    name=st.text(max_size=40),
    description=st.none() | st.text(max_size=30),
)
def test_any_attributes_name_and_status_encode_as_the_sdks(
    attributes: dict[str, Any], name: str, description: str | None
) -> None:
    kept = _Kept()
    tracer = _provider(kept).get_tracer("scope")
    span = tracer.start_span(name, attributes=attributes)
    span.add_event(name, attributes)
    if description is not None:
        span.set_status(Status(StatusCode.ERROR, description))
    span.end()
    tracer.start_span(name, attributes=attributes).end()  # the second one from the encoder's cache
    _assert_same(kept.spans)


def test_the_attribute_cache_stays_bounded_and_right_past_its_limit() -> None:
    kept = _Kept()
    tracer = _provider(kept).get_tracer("scope")
    for batch in range(3):
        kept.spans.clear()
        for port in range(batch * 2000, batch * 2000 + 2000):
            tracer.start_span("call", attributes={"network.peer.port": port, "rpc.method": "Get"}).end()
        assert encode_request(kept.spans) == encode_spans(kept.spans)
        assert span_encoding._kept_field.cache_info().currsize <= span_encoding._CACHE_LIMIT


class _Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
def receiver() -> Iterator[tuple[_Receiver, int]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    found = _Receiver()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(found, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield found, port
    finally:
        server.stop(None)


def test_the_services_grpc_exporter_sends_the_fast_encoding_to_a_collector(
    receiver: tuple[_Receiver, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    found, port = receiver
    environ = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    exporter = _span_exporter({})
    assert isinstance(exporter, FastOtlpSpanExporter)
    encoded: list[int] = []
    original = span_encoding.encode_request

    def counted(spans: Sequence[ReadableSpan]) -> trace_service_pb2.ExportTraceServiceRequest:
        encoded.append(len(spans))
        return original(spans)

    monkeypatch.setattr(span_encoding, "encode_request", counted)
    kept = _Kept()
    tracer = _provider(kept).get_tracer("session_service")
    for method in ("Get", "Refresh", "Revoke"):
        tracer.start_span(method, attributes={"rpc.method": method, "session.found": True}).end()
    try:
        assert exporter.export(kept.spans) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    # The SDK's exporter went through our encoding (a change of its hook would show here),
    # and the collector received exactly what the SDK's encoder makes.
    assert encoded == [3]
    assert found.requests == [encode_spans(kept.spans)]
