"""OTLP trace export requests, encoded for the service's own spans in a fraction of the
time the SDK's encoder takes.

The SDK's encoder builds a protobuf object per span, per attribute and per value: about
40 µs a span, on the core that serves calls. The service's spans are alike (the same few
keys, mostly the same values, rarely an event, no links), so here each span is written
as protobuf wire bytes, the ``KeyValue`` bytes of recurring attribute values are kept
once written, and each group of spans is parsed into the request's message in one call.
A span the fast path does not cover (links, array or map values, anything unexpected)
is encoded by the SDK's public ``encode_spans``, so the result is always the request the
SDK would send (the tests compare the two).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, SpanFlags
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind

_KINDS = {
    SpanKind.INTERNAL: Span.SpanKind.SPAN_KIND_INTERNAL,
    SpanKind.SERVER: Span.SpanKind.SPAN_KIND_SERVER,
    SpanKind.CLIENT: Span.SpanKind.SPAN_KIND_CLIENT,
    SpanKind.PRODUCER: Span.SpanKind.SPAN_KIND_PRODUCER,
    SpanKind.CONSUMER: Span.SpanKind.SPAN_KIND_CONSUMER,
}
_LOCAL_PARENT = struct.pack("<I", SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)
_REMOTE_PARENT = struct.pack(
    "<I", SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK | SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
)
_FIXED64 = struct.Struct("<Q")
_DOUBLE = struct.Struct("<d")
_CACHE_LIMIT = 4096
"""Attribute encodings kept, the least recently used going first (a peer port per
connection would otherwise grow them without bound)."""


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 on the wire: two's complement in ten bytes
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    # A length-delimited field whose tag byte is already worked out (field numbers < 16).
    return bytes((tag,)) + _varint(len(payload)) + payload


class _Unsupported(Exception):
    """A span the fast path leaves to the SDK's encoder."""


def encode_request(spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    """The export request for ``spans``, equal to the SDK's: grouped by resource and scope
    as the SDK groups them."""
    # Equal resources held by different objects share one group, as in the SDK; each
    # resource object is compared once per batch, not hashed per span.
    resources: dict[int, Resource] = {}
    groups: dict[tuple[int, InstrumentationScope | None], list[ReadableSpan]] = {}
    for span in spans:
        resource = resources.get(id(span.resource))
        if resource is None:
            resource = next((known for known in resources.values() if known == span.resource), span.resource)
            resources[id(span.resource)] = resource
        groups.setdefault((id(resource), span.instrumentation_scope), []).append(span)
    request = ExportTraceServiceRequest()
    merged: dict[int, ResourceSpans] = {}
    for (resource_id, _), members in groups.items():
        # The group's resource and scope, as the SDK writes them, from its first span.
        template = encode_spans(members[:1]).resource_spans[0]
        scope = template.scope_spans[0]
        scope.ClearField("spans")
        scope.MergeFromString(b"".join(_wrapped(members)))
        target = merged.get(resource_id)
        if target is None:
            request.resource_spans.append(template)
            merged[resource_id] = request.resource_spans[-1]
        else:
            target.scope_spans.append(scope)
    return request


def _wrapped(spans: Iterable[ReadableSpan]) -> Iterable[bytes]:
    # Each span as field 2 (spans) of ScopeSpans.
    for span in spans:
        try:
            encoded = _span(span)
        except _Unsupported:
            encoded = encode_spans([span]).resource_spans[0].scope_spans[0].spans[0].SerializeToString()
        yield _field(0x12, encoded)


def _span(span: ReadableSpan) -> bytes:
    context = span.get_span_context()
    if context is None or span.links:
        raise _Unsupported
    events = span.events
    parent = span.parent
    parts = [
        b"\x0a\x10",
        context.trace_id.to_bytes(16, "big"),
        b"\x12\x08",
        context.span_id.to_bytes(8, "big"),
    ]
    if context.trace_state:
        parts.append(_field(0x1A, ",".join(f"{k}={v}" for k, v in context.trace_state.items()).encode()))
    if parent is not None:
        parts += (b"\x22\x08", parent.span_id.to_bytes(8, "big"))
    if span.name:
        parts.append(_field(0x2A, span.name.encode()))
    parts += (b"\x30", _varint(_KINDS[span.kind]))
    if span.start_time:
        parts += (b"\x39", _FIXED64.pack(span.start_time))
    if span.end_time:
        parts += (b"\x41", _FIXED64.pack(span.end_time))
    if span.attributes:
        parts += _attribute_fields(span.attributes, 0x4A)
    if span.dropped_attributes:
        parts += (b"\x50", _varint(span.dropped_attributes))
    for event in events:
        fields = [b"\x09", _FIXED64.pack(event.timestamp)] if event.timestamp else []
        if event.name:
            fields.append(_field(0x12, event.name.encode()))
        if event.attributes:
            fields += _attribute_fields(event.attributes, 0x1A)
        if event.dropped_attributes:
            fields += (b"\x20", _varint(event.dropped_attributes))
        parts.append(_field(0x5A, b"".join(fields)))
    if span.dropped_events:
        parts += (b"\x60", _varint(span.dropped_events))
    if span.dropped_links:
        parts += (b"\x70", _varint(span.dropped_links))
    status = span.status
    if status is not None:
        body = b""
        if status.description:
            body += _field(0x12, status.description.encode())
        if status.status_code.value:
            body += b"\x18" + _varint(status.status_code.value)
        parts.append(_field(0x7A, body))
    parts += (b"\x85\x01", _REMOTE_PARENT if parent is not None and parent.is_remote else _LOCAL_PARENT)
    return b"".join(parts)


def _attribute_fields(attributes: Mapping[str, Any], tag: int) -> list[bytes]:
    # Each attribute as a KeyValue field (``tag``: its field's tag byte).
    # A plain dict copy: iterating the SDK's attribute mappings goes key by key through
    # Python-level methods.
    plain = attributes.copy() if isinstance(attributes, MappingProxyType | dict) else dict(attributes)
    return [
        _kept_field(tag, key, value) if type(value) in _KEPT_TYPES else _field(tag, _key_value(key, value))
        for key, value in plain.items()
    ]


_KEPT_TYPES = frozenset({str, int, bool, bytes})
"""Values whose encoding is kept: hashable, and equal values of one type encode alike
(not floats: -0.0 == 0.0, and NaN equals nothing)."""


@functools.lru_cache(maxsize=_CACHE_LIMIT, typed=True)
def _kept_field(tag: int, key: str, value: str | int | bytes) -> bytes:
    # typed: True, 1 and b"1" are kept apart.
    return _field(tag, _key_value(key, value))


def _key_value(key: str, value: Any) -> bytes:
    # KeyValue {key = 1; AnyValue value = 2}, AnyValue's oneof as the SDK picks it.
    if isinstance(value, bool):
        any_value = b"\x10" + (b"\x01" if value else b"\x00")
    elif isinstance(value, str):
        any_value = _field(0x0A, value.encode())
    elif isinstance(value, int):
        any_value = b"\x18" + _varint(value)
    elif isinstance(value, float):
        any_value = b"\x21" + _DOUBLE.pack(value)
    elif isinstance(value, bytes):
        any_value = _field(0x3A, value)
    else:
        raise _Unsupported
    return _field(0x0A, key.encode()) + _field(0x12, any_value)


class FastOtlpSpanExporter(OTLPSpanExporter):
    """The SDK's OTLP/gRPC span exporter (same settings, retries and transport), with the
    request encoded by :func:`encode_request`."""

    def _translate_data(self, data: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
        return encode_request(data)
