"""Each call's server span is started by the call pipeline, and only for a sampled call:
its OpenTelemetry RPC attributes, its Redis children, the caller's trace context honoured,
nothing recorded for an unsampled call, and no token in any span. Spans arrive at a real
OTLP receiver over gRPC from a service called over a real channel."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import grpc
import pytest
from opentelemetry.proto.trace.v1 import trace_pb2
from session_wire.v1 import session_pb2 as pb

from tests.integration.test_telemetry import (
    SERVICE,
    OtlpReceiver,
    _children,
    _export_to,
    _flush,
    _server_spans,
    launch,
    otlp_receiver,
)

__all__ = ["launch", "otlp_receiver"]  # fixtures, imported for the tests below


def _sample_at(monkeypatch: pytest.MonkeyPatch, receiver: OtlpReceiver, sampler: str, arg: str = "") -> None:
    _export_to(monkeypatch, receiver)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    if arg:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", arg)


def _traceparent(trace_id: str, parent_id: str, *, sampled: bool) -> tuple[tuple[str, str], ...]:
    return (("traceparent", f"00-{trace_id}-{parent_id}-{'01' if sampled else '00'}"),)


async def test_a_sampled_call_has_the_rpc_server_span_with_semantic_convention_attributes_and_redis_children(
    monkeypatch: pytest.MonkeyPatch, otlp_receiver: OtlpReceiver, launch: Any
) -> None:
    _sample_at(monkeypatch, otlp_receiver, "parentbased_traceidratio", "1.0")
    s = await launch()
    created = await s.stub.Create(pb.CreateRequest(user_id="semconv"))
    await s.stub.Get(pb.GetRequest(session_id=created.session.session_id))
    await _flush(s.service)
    await otlp_receiver.wait_for(lambda spans: bool(_server_spans(spans, "Get")))
    spans = otlp_receiver.spans()

    (server,) = _server_spans(spans, "Get")
    assert server.kind == trace_pb2.Span.SPAN_KIND_SERVER
    a = server.attributes
    assert (a["rpc.system"], a["rpc.service"], a["rpc.method"]) == ("grpc", SERVICE, "Get")
    assert a["rpc.grpc.status_code"] == grpc.StatusCode.OK.value[0]
    assert (a["server.address"], a["server.port"]) == ("127.0.0.1", s.service.port)
    assert (a["network.transport"], a["network.type"]) == ("tcp", "ipv4")
    assert a["network.peer.address"] == "127.0.0.1"
    assert isinstance(a["network.peer.port"], int) and a["network.peer.port"] > 0
    redis = _children(spans, server)
    assert redis, "the call's Redis round trips are children of its server span"
    for child in redis:
        assert child.kind == trace_pb2.Span.SPAN_KIND_CLIENT
        assert child.attributes["db.system"] == "redis"


async def test_an_unsampled_call_records_nothing(
    monkeypatch: pytest.MonkeyPatch, otlp_receiver: OtlpReceiver, launch: Any
) -> None:
    # Ratio 0: no call without a sampled parent is recorded; a caller's sampled=0 is followed.
    _sample_at(monkeypatch, otlp_receiver, "parentbased_traceidratio", "0")
    s = await launch()
    created = await s.stub.Create(pb.CreateRequest(user_id="unsampled"))
    not_sampled = _traceparent(secrets.token_hex(16), secrets.token_hex(8), sampled=False)
    await s.stub.Get(pb.GetRequest(session_id=created.session.session_id))
    await s.stub.Get(pb.GetRequest(session_id=created.session.session_id), metadata=not_sampled)
    await s.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token), metadata=not_sampled)
    await _flush(s.service)
    await asyncio.sleep(0.2)
    assert otlp_receiver.spans() == []


async def test_a_callers_traceparent_is_honoured_whatever_the_ratio(
    monkeypatch: pytest.MonkeyPatch, otlp_receiver: OtlpReceiver, launch: Any
) -> None:
    _sample_at(monkeypatch, otlp_receiver, "parentbased_traceidratio", "0")
    s = await launch()
    created = await s.stub.Create(pb.CreateRequest(user_id="parented"))
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    sampled = _traceparent(trace_id, parent_id, sampled=True)
    await s.stub.Get(pb.GetRequest(session_id=created.session.session_id), metadata=sampled)
    await _flush(s.service)
    await otlp_receiver.wait_for(lambda spans: bool(_server_spans(spans, "Get")))
    spans = otlp_receiver.spans()
    assert _server_spans(spans, "Create") == [], "ratio 0 samples no call of its own"
    (server,) = _server_spans(spans, "Get")
    assert (server.trace_id, server.parent_span_id) == (trace_id, parent_id)
    assert [c.trace_id for c in _children(spans, server)] and all(
        c.trace_id == trace_id for c in _children(spans, server)
    )


async def test_at_a_ratio_some_calls_are_recorded_each_with_its_own_trace(
    monkeypatch: pytest.MonkeyPatch, otlp_receiver: OtlpReceiver, launch: Any
) -> None:
    _sample_at(monkeypatch, otlp_receiver, "parentbased_traceidratio", "0.5")
    s = await launch()
    created = await s.stub.Create(pb.CreateRequest(user_id="halved"))
    for _ in range(60):
        await s.stub.Get(pb.GetRequest(session_id=created.session.session_id))
    await _flush(s.service)
    await asyncio.sleep(0.2)
    gets = _server_spans(otlp_receiver.spans(), "Get")
    # Binomial(60, 0.5): outside 10..50 about once in 10^7 runs.
    assert 10 <= len(gets) <= 50
    assert len({g.trace_id for g in gets}) == len(gets)


async def test_no_token_or_session_data_appears_in_any_span(
    monkeypatch: pytest.MonkeyPatch, otlp_receiver: OtlpReceiver, launch: Any
) -> None:
    _sample_at(monkeypatch, otlp_receiver, "always_on")
    s = await launch()
    created = await s.stub.Create(
        pb.CreateRequest(user_id="secretive", data={"note": b"private-note-value"}, claims={"tenant": "hush"})
    )
    refreshed = await s.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    await s.stub.Introspect(pb.IntrospectRequest(token=refreshed.access_token))
    sid = created.session.session_id
    await s.stub.Update(pb.UpdateRequest(session_id=sid, set={"k": b"another-private"}))
    await s.stub.Revoke(pb.RevokeRequest(refresh_token=refreshed.refresh_token))
    await _flush(s.service)
    await otlp_receiver.wait_for(lambda spans: bool(_server_spans(spans, "Revoke")))
    text, wire = otlp_receiver.dump()
    secrets_sent = [
        created.access_token,
        created.refresh_token,
        refreshed.access_token,
        refreshed.refresh_token,
        created.refresh_token.rpartition(".")[2],
        "private-note-value",
        "another-private",
        "hush",
    ]
    for secret in secrets_sent:
        assert secret not in text and secret.encode() not in wire, "a secret reached a span"
