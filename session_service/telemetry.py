"""Traces, metrics and logs: all of the service's OpenTelemetry in one place.

Tracing is on when the standard variables ask for OTLP export
(``OTEL_EXPORTER_OTLP_ENDPOINT``/``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` set, or
``OTEL_TRACES_EXPORTER=otlp``) and ``OTEL_SDK_DISABLED`` is not true. The SDK reads the
rest itself: ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``
(and ``_ARG``), ``OTEL_EXPORTER_OTLP_PROTOCOL``/``HEADERS``/``CERTIFICATE``/... and the
``OTEL_BSP_*`` batching settings. When tracing is off nothing is installed: no tracer
provider, no call tracer, no wrapped Redis client.

A call's server span is started by the call pipeline's observer (:class:`CallTracer`), and
only when the sampler samples the call: an unsampled call costs the W3C ``traceparent``
look-up in its metadata, one random trace id and the sampler's decision, and no span object.
A sampled call's span stays the current span while its handler runs, so the Redis spans
are its children.

Each service gets its own tracer provider instead of the process-wide one, and the
instrumentation is attached to its own server and Redis client only, so nothing leaks
from one service instance (or test) to another.

What a span may carry: the RPC (``rpc.*``), the peer (``network.*``), its outcome (``rpc.grpc.status_code``,
``session.outcome`` = ``OK`` or the ErrorInfo reason), ``session.found`` and counts;
for Redis the script's name, never its keys or arguments. Tokens, refresh-token
secrets, session data and claims are never recorded; neither are request or response
messages nor metadata values.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any, TextIO

import grpc
import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util import types
from redis import exceptions as redis_errors
from session_wire import reasons
from session_wire.ext_authz import external_auth_pb2

from session_service.audit import AUDIT_EVENT_ATTRIBUTE, AUDIT_LOGGER_NAME
from session_service.errors import ConfigError
from session_service.metrics import Latency, MetricsServer, ServiceMetrics
from session_service.transport.pipeline import UNOBSERVED, Context, NullObserver

if TYPE_CHECKING:
    from session_service.store.outbox import RevocationRelay

log = logging.getLogger(__name__)

DEFAULT_SERVICE_NAME = "session-service"
TRACED_SERVICE_PREFIX = "session.v1."
GATEWAY_SERVICE = external_auth_pb2.DESCRIPTOR.services_by_name["Authorization"].full_name
"""Envoy's ``Check`` is traced too (its spans carry no request headers, so no token)."""

# Span attributes set by this module.
OUTCOME = "session.outcome"
FOUND = "session.found"
ACTIVE = "session.active"
REVOKED_COUNT = "session.revoked_count"
SESSION_COUNT = "session.count"
REDIS_SCRIPT = "session.redis.script"
GRPC_STATUS_CODE = "rpc.grpc.status_code"
# The RPC server span's attributes of OpenTelemetry's semantic conventions.
RPC_SYSTEM = "rpc.system"
RPC_SERVICE = "rpc.service"
RPC_METHOD = "rpc.method"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
PEER_ADDRESS = "network.peer.address"
PEER_PORT = "network.peer.port"
NETWORK_TRANSPORT = "network.transport"
NETWORK_TYPE = "network.type"

# Codes that mean the server failed (OpenTelemetry's gRPC conventions); the others are
# the caller's problem and leave the span status unset.
_SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


def tracing_enabled(environ: Mapping[str, str]) -> bool:
    """Whether the OTEL_* variables ask for OTLP trace export."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        names = {name.strip() for name in exporters.split(",")}
        if names - {"otlp", "none"}:
            log.warning("OTEL_TRACES_EXPORTER=%s: only otlp and none are supported", exporters)
        return "otlp" in names
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def _span_exporter(environ: Mapping[str, str]) -> SpanExporter:
    # Imported here so that a service without tracing never loads the exporters.
    protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    protocol = (protocol or "grpc").strip()
    if protocol == "grpc":
        from session_service.span_encoding import FastOtlpSpanExporter

        return FastOtlpSpanExporter()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        return HttpExporter()
    raise ConfigError("OTEL_EXPORTER_OTLP_PROTOCOL", "must be grpc or http/protobuf")


def _resource() -> Resource:
    try:
        version = metadata.version("session-service")
    except metadata.PackageNotFoundError:
        version = "unknown"
    resource = Resource.create({SERVICE_VERSION: version})
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    return resource


def _sampling(environ: Mapping[str, str]) -> tuple[Sampler | None, int | None]:
    """The sampler OTEL_TRACES_SAMPLER (and ``_ARG``) name, when it is one of the SDK's
    built-in ones, and the bound the low 64 bits of a call's trace id must stay under for a
    call without a parent to be sampled (:class:`CallTracer` decides those without the
    sampler); ``(None, None)`` for any other (the SDK loads it by name)."""
    name = (environ.get("OTEL_TRACES_SAMPLER") or "parentbased_always_on").strip().lower()
    kind = name.removeprefix("parentbased_")
    root: Sampler
    if kind == "always_on":
        root, bound = ALWAYS_ON, TraceIdRatioBased.TRACE_ID_LIMIT + 1
    elif kind == "always_off":
        root, bound = ALWAYS_OFF, 0
    elif kind == "traceidratio":
        arg = (environ.get("OTEL_TRACES_SAMPLER_ARG") or "1.0").strip()
        try:
            ratio = TraceIdRatioBased(float(arg))
        except ValueError:
            raise ConfigError(
                "OTEL_TRACES_SAMPLER_ARG", f"must be a ratio from 0 to 1, not {arg!r}"
            ) from None
        root, bound = ratio, ratio.bound
    else:
        return None, None
    return (ParentBased(root) if kind != name else root), bound


@dataclass(frozen=True)
class Tracing:
    """The service's tracing, when it is on."""

    provider: TracerProvider
    """Samples as OTEL_TRACES_SAMPLER says (default parentbased_always_on)."""
    processor: SpanProcessor
    """The provider's span processor (batching OTLP export): the service's own spans are
    handed to it finished."""
    root_bound: int | None
    """How the sampler decides a call without a parent (see :func:`_sampling`)."""


def _tracing(environ: Mapping[str, str]) -> Tracing:
    """The service's tracer provider and span processor, as the OTEL_* variables say."""
    sampler, root_bound = _sampling(environ)
    provider = TracerProvider(resource=_resource(), sampler=sampler)
    processor = BatchSpanProcessor(_span_exporter(environ))
    provider.add_span_processor(processor)
    return Tracing(provider, processor, root_bound)


_TRACE_CONTEXT = TraceContextTextMapPropagator()
_NO_PARENT = otel_context.Context()
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSET = Status(StatusCode.UNSET)
_MAX_EVENTS = 128
_KEPT_ATTRIBUTE_SETS = 1024
"""Attribute sets kept for reuse per kind (method and peer, round trip), the least
recently used going first (a peer port per connection would otherwise grow them without
bound)."""


class _FinishedSpans:
    """Where the service's own spans go when they end: the provider's span processor, as
    finished spans of the provider's resource."""

    def __init__(self, provider: TracerProvider, processor: SpanProcessor, scope: str) -> None:
        self.ids = provider.id_generator
        self._processor = processor
        self._resource = provider.resource
        self._scope = InstrumentationScope(scope)

    def emit(
        self,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: dict[str, Any],
        status: Status,
        started: int,
        events: Sequence[Event] = (),
        ended: int | None = None,
    ) -> None:
        """Hands a finished span to the processor (ended now unless ``ended`` says when)."""
        self._processor.on_end(
            ReadableSpan(
                name,
                context,
                parent,
                resource=self._resource,
                attributes=attributes,
                events=events,
                kind=kind,
                status=status,
                start_time=started,
                end_time=ended if ended is not None else time.time_ns(),
                instrumentation_scope=self._scope,
            )
        )


class CallTracer:
    """Starts a call's RPC server span when, and only when, the tracer provider's sampler
    samples it; the caller's W3C trace context (``traceparent``, ``tracestate``) is the
    parent. Spans carry the RPC, the peer and the outcome: never metadata values, request
    or response messages."""

    def __init__(
        self, provider: TracerProvider, processor: SpanProcessor, root_bound: int | None = None
    ) -> None:
        """``processor``: the provider's span processor, which ended spans are handed to.
        ``root_bound``: the provider's sampler decides a call without a parent by its trace
        id alone (sampled when the id's low 64 bits are under the bound): such a call is
        decided here, without the sampler; None asks the sampler for every call."""
        self._spans = _FinishedSpans(provider, processor, "session_service")
        self._sampler = provider.sampler
        self._root_bound = root_bound
        self._server: dict[str, Any] = {}
        # The attributes of each method and peer (a connection), built once (copy them).
        self._known = functools.lru_cache(maxsize=_KEPT_ATTRIBUTE_SETS)(self._call_attributes)

    def listening(self, host: str, port: int) -> None:
        """The server's own address, for the ``server.*`` attributes (a wildcard host is left out)."""
        self._server = {SERVER_PORT: port}
        if host not in ("", "0.0.0.0", "::", "[::]"):  # noqa: S104 - compared, not bound
            self._server[SERVER_ADDRESS] = host
        self._known.cache_clear()

    def start(self, method: str, context: Context) -> CallSpan | None:
        """The server span of a call of ``method`` (full gRPC name), current from now on;
        None when the call is not sampled."""
        traceparent = tracestate = None
        for key, value in context.invocation_metadata() or ():
            if key == "traceparent":
                traceparent = value
            elif key == "tracestate":
                tracestate = value
        ids = self._spans.ids
        if traceparent is None and self._root_bound is not None:
            # The common case, kept short (an unsampled call costs only this): a call
            # without a parent, decided by a fresh trace id as the sampler would.
            trace_id = ids.generate_trace_id()
            if trace_id & TraceIdRatioBased.TRACE_ID_LIMIT >= self._root_bound:
                return None
            own = SpanContext(trace_id, ids.generate_span_id(), False, _SAMPLED)
            return self._started(method, context, own, None, _NO_PARENT, {})
        parent = _NO_PARENT
        if traceparent is not None:
            carrier = {"traceparent": traceparent}
            if tracestate is not None:
                carrier["tracestate"] = tracestate
            parent = _TRACE_CONTEXT.extract(carrier, _NO_PARENT)
        parent_ids = trace.get_current_span(parent).get_span_context()
        trace_id = parent_ids.trace_id if parent_ids.is_valid else ids.generate_trace_id()
        decided = self._sampler.should_sample(parent, trace_id, method, SpanKind.SERVER)
        if decided.decision is not Decision.RECORD_AND_SAMPLE:
            return None  # recorded-only spans are never exported: none is made
        own = SpanContext(trace_id, ids.generate_span_id(), False, _SAMPLED, decided.trace_state)
        return self._started(
            method,
            context,
            own,
            parent_ids if parent_ids.is_valid else None,
            parent,
            decided.attributes or {},
        )

    def _started(
        self,
        method: str,
        context: Context,
        own: SpanContext,
        parent: SpanContext | None,
        parent_context: otel_context.Context,
        attributes: Mapping[str, Any],
    ) -> CallSpan:
        attributes = {**attributes, **self._known(method, context.peer())}
        span = CallSpan(self._spans, method, own, parent, attributes)
        span.token = otel_context.attach(trace.set_span_in_context(span, parent_context))
        return span

    def _call_attributes(self, method: str, peer: str) -> dict[str, Any]:
        service, _, name = method.lstrip("/").partition("/")
        attributes: dict[str, Any] = {RPC_SYSTEM: "grpc", RPC_SERVICE: service, RPC_METHOD: name}
        attributes.update(self._server)
        attributes.update(_peer_attributes(peer))
        return attributes


def _peer_attributes(peer: str) -> dict[str, Any]:
    # gRPC names the peer "ipv4:10.0.0.1:5000", "ipv6:[::1]:5000" or "unix:/path".
    kind, _, address = peer.partition(":")
    if kind == "unix":
        return {NETWORK_TRANSPORT: "unix"}
    if kind not in ("ipv4", "ipv6"):
        return {}
    host, _, port = address.rpartition(":")
    found: dict[str, Any] = {NETWORK_TRANSPORT: "tcp", NETWORK_TYPE: kind, PEER_ADDRESS: host.strip("[]")}
    if port.isdigit():
        found[PEER_PORT] = int(port)
    return found


class CallSpan(Span):
    """A sampled call's server span, current until the call ends.

    The OpenTelemetry API's span, recorded here and handed finished to the provider's span
    processor when the call ends: the SDK's live span (a lock, attribute validation and
    limits on every change) costs several times more, on every sampled call. Only the
    service sets its attributes (plain values); what other code adds, events (audit
    events), goes through the SDK's attribute checks."""

    __slots__ = (
        "_attributes",
        "_context",
        "_ended",
        "_events",
        "_name",
        "_parent",
        "_spans",
        "_started",
        "_status",
        "token",
    )

    def __init__(
        self,
        spans: _FinishedSpans,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        attributes: dict[str, Any],
    ) -> None:
        self._spans = spans
        self._name = name
        self._context = context
        self._parent = parent
        self._attributes = attributes
        self._events: list[Event] = []
        self._status = _UNSET
        self._started = time.time_ns()
        self._ended = False
        self.token: object = None
        """The context token of the call while the span is current."""

    def get_span_context(self) -> SpanContext:
        """The span's ids (sampled)."""
        return self._context

    def is_recording(self) -> bool:
        """True until the span ends."""
        return not self._ended

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        """Sets one attribute (the service's own, plain values)."""
        if not self._ended:
            self._attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        """Sets several attributes (the service's own, plain values)."""
        if not self._ended:
            self._attributes.update(attributes)

    def add_event(self, name: str, attributes: types.Attributes = None, timestamp: int | None = None) -> None:
        """Records an event; its attributes are checked as the SDK checks them. Past the
        SDK's default limit of events per span, more are not kept."""
        if not self._ended and len(self._events) < _MAX_EVENTS:
            self._events.append(
                Event(name, BoundedAttributes(attributes=attributes, immutable=True), timestamp)
            )

    def update_name(self, name: str) -> None:
        """Renames the span."""
        if not self._ended:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """Sets the status, as the SDK does: OK is final, UNSET changes nothing."""
        if self._ended or self._status.status_code is StatusCode.OK:
            return
        if isinstance(status, StatusCode):
            status = Status(status, description)
        if status.status_code is not StatusCode.UNSET:
            self._status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """Records the exception's class only: its message or trace may quote tokens or data."""
        self.add_event("exception", {"exception.type": type(exception).__name__}, timestamp)

    def end(self, end_time: int | None = None) -> None:
        """Ends the span and hands it to the span processor (once)."""
        if self._ended:
            return
        self._ended = True
        self._spans.emit(
            self._name,
            self._context,
            self._parent,
            SpanKind.SERVER,
            self._attributes,
            self._status,
            self._started,
            tuple(self._events),
            end_time,
        )

    def finish(self, code: grpc.StatusCode, outcome: str) -> None:
        """Records the call's status and outcome, ends the span and makes it no longer current."""
        self._attributes[GRPC_STATUS_CODE] = code.value[0]
        self._attributes[OUTCOME] = outcome
        if code in _SERVER_FAULTS:
            self.set_status(Status(StatusCode.ERROR, outcome))
        self.end()
        otel_context.detach(self.token)  # type: ignore[arg-type]


class GatewayCallTelemetry:
    """One Envoy ``Check`` call while it is traced: its span only (the gateway door counts
    its decisions itself)."""

    __slots__ = ("_code", "_reason", "_span")

    def __init__(self, span: CallSpan) -> None:
        self._span = span
        self._code = grpc.StatusCode.CANCELLED
        self._reason = "CANCELLED"

    def succeeded(self, response: Any) -> None:
        """The check answered (allowed or denied)."""
        self._code, self._reason = grpc.StatusCode.OK, "OK"

    def failed(self, code: grpc.StatusCode, reason: str, error: BaseException) -> None:
        """The check fails with ``code``."""
        self._code, self._reason = code, reason

    def ended(self) -> None:
        """The call is over."""
        self._span.finish(self._code, self._reason)


class Telemetry:
    """The tracing, metrics and per-call observation of one service instance."""

    def __init__(self, tracing: Tracing | None, metrics: ServiceMetrics) -> None:
        """``tracing`` None: tracing is off."""
        self._tracing = tracing
        self.metrics = metrics
        """The service's Prometheus metrics."""
        self._metrics_server: MetricsServer | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Telemetry:
        """Telemetry as the OTEL_* variables describe it (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        return cls(_tracing(env) if tracing_enabled(env) else None, ServiceMetrics())

    @property
    def tracer_provider(self) -> TracerProvider | None:
        """The service's own tracer provider; None when tracing is off."""
        return self._tracing.provider if self._tracing is not None else None

    @property
    def tracing(self) -> bool:
        """True when spans are recorded and exported."""
        return self._tracing is not None

    @property
    def metrics_port(self) -> int:
        """Port of the /metrics endpoint; 0 when it is not served."""
        return self._metrics_server.port if self._metrics_server else 0

    def instrument_redis(self, client: Any, script_names: Mapping[str, str]) -> None:
        """Makes a child span of each Redis command a call sends through redis-py's client
        (the paths off the lane); ``script_names`` maps SHA-1 → name.

        Commands outside any call (health checks, script loading) make no spans.
        """
        if self._tracing is None:
            return
        RedisInstrumentor.instrument_client(
            client, tracer_provider=self._tracing.provider, request_hook=_RedisScriptNamer(script_names)
        )
        wrapt.wrap_function_wrapper(client, "execute_command", _traced_only_within_a_call)

    def round_trip_spans(self) -> RedisRoundTrips | None:
        """Spans for the lane's round trips (store/lane.py); None when tracing is off."""
        if self._tracing is None:
            return None
        return RedisRoundTrips(self._tracing.provider, self._tracing.processor)

    def watch_relay(self, relay: RevocationRelay) -> None:
        """Exports the outbox relay's lag and the events its recovery passes moved."""
        self.metrics.relay_lagging.set_function(lambda: 1.0 if relay.lagging else 0.0)
        relay.on_recovered = self.metrics.events_recovered.inc

    def observer(self) -> RpcTelemetry:
        """What the call pipeline reports each call to (it starts sampled calls' spans)."""
        t = self._tracing
        tracer = CallTracer(t.provider, t.processor, t.root_bound) if t is not None else None
        return RpcTelemetry(self.metrics, tracer)

    def serve_metrics(self, host: str, port: int) -> None:
        """Serves Prometheus text on ``http://host:port/metrics``; port 0 serves nothing."""
        if port:
            self._metrics_server = MetricsServer(self.metrics, host, port)

    def close(self) -> None:
        """Stops the metrics endpoint and exports the spans still buffered (blocks: run it in a thread)."""
        if self._metrics_server is not None:
            self._metrics_server.close()
            self._metrics_server = None
        if self._tracing is not None:
            self._tracing.provider.shutdown()


async def _traced_only_within_a_call(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if trace.get_current_span().get_span_context().is_valid:
        return await wrapped(*args, **kwargs)
    with suppress_instrumentation():
        return await wrapped(*args, **kwargs)


class RedisRoundTrips:
    """A client span per round trip of the lane (store/lane.py), within a sampled call only.

    Attributes from OpenTelemetry's database client conventions (``db.system``,
    ``db.operation``, ``server.address``, ...), the old names beside the new, and the
    script's name; never a key or an argument (they hold tokens and session data). A call
    that is not sampled creates no span object at all.

    These spans are leaves (nothing runs inside a round trip), so each is handed to the
    service's span processor as a finished span when the reply is in, instead of going
    through the SDK tracer's live span: the same span (the parent's trace, a fresh span
    id, the parent's flags and trace state), about a fifth of the cost. The sampling is
    the parent's: a round trip is recorded exactly when its call is."""

    def __init__(self, tracer_provider: TracerProvider, processor: SpanProcessor) -> None:
        """``processor``: where finished spans go (the provider's own processor)."""
        self._spans = _FinishedSpans(tracer_provider, processor, __name__)

    def start(
        self, name: str, operation: str, address: tuple[str, int], database: int | None, batch: int
    ) -> _RoundTrip | None:
        """A started client span named ``name``, or None when the current call is not sampled."""
        # An unsampled call attaches nothing: its context is empty, which is cheaper to see
        # than its current span, on every round trip of every such call.
        current = otel_context.get_current()
        if not current:
            return None
        parent = trace.get_current_span(current).get_span_context()
        if not parent.trace_flags.sampled:
            return None
        attributes = _round_trip_attributes(name, operation, address, database, batch)
        return _RoundTrip(name or operation, parent, attributes.copy(), time.time_ns())

    def end(self, span: _RoundTrip, error: BaseException | None) -> None:
        """Ends ``span``; an error is recorded by its class only (a reply may quote data)."""
        status = _UNSET
        if error is not None:
            span.attributes["error.type"] = type(error).__name__
            status = Status(StatusCode.ERROR, type(error).__name__)
        parent = span.parent
        context = SpanContext(
            parent.trace_id, self._spans.ids.generate_span_id(), False, parent.trace_flags, parent.trace_state
        )
        self._spans.emit(span.name, context, parent, SpanKind.CLIENT, span.attributes, status, span.started)


@functools.lru_cache(maxsize=_KEPT_ATTRIBUTE_SETS)
def _round_trip_attributes(
    name: str, operation: str, address: tuple[str, int], database: int | None, batch: int
) -> dict[str, str | int]:
    attributes: dict[str, str | int] = {
        "db.system": "redis",
        "db.system.name": "redis",
        "db.operation": operation,
        "db.operation.name": operation,
        "server.address": address[0],
        "server.port": address[1],
    }
    if database is not None:
        attributes["db.redis.database_index"] = database
        attributes["db.namespace"] = str(database)
    if batch > 1:
        attributes["db.operation.batch.size"] = batch
    script = name.partition(" ")[2]
    if script and operation.startswith("EVAL"):
        attributes[REDIS_SCRIPT] = script
    return attributes


class _RoundTrip:
    """A round trip's span until its reply is in."""

    __slots__ = ("attributes", "name", "parent", "started")

    def __init__(
        self, name: str, parent: SpanContext, attributes: dict[str, str | int], started: int
    ) -> None:
        self.name = name
        self.parent = parent
        self.attributes = attributes
        self.started = started


class _RedisScriptNamer:
    """Names a script call's span after the script, and keeps keys and ARGV out of it."""

    def __init__(self, script_names: Mapping[str, str]) -> None:
        self._names = dict(script_names)

    def __call__(self, span: Span, instance: Any, args: Any, kwargs: Any) -> None:
        if not span.is_recording() or not args:
            return
        command = _text(args[0]).upper()
        name = None
        if command in ("EVALSHA", "EVALSHA_RO") and len(args) > 1:
            name = self._names.get(_text(args[1]))
        elif command in ("EVAL", "EVAL_RO") and len(args) > 1:
            source = args[1] if isinstance(args[1], bytes) else str(args[1]).encode()
            name = self._names.get(hashlib.sha1(source).hexdigest())  # noqa: S324 - Redis names scripts by SHA-1
        # The instrumentation already replaces arguments by "?"; this holds even if a
        # later version or setting stopped doing so.
        statement = f"{command} {name}" if name else command
        recorded = getattr(span, "attributes", None) or {}
        for attribute in ("db.statement", "db.query.text"):
            if attribute in recorded:
                span.set_attribute(attribute, statement)
        if name:
            span.update_name(statement)
            span.set_attribute(REDIS_SCRIPT, name)


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class RpcTelemetry:
    """Turns each SessionService call's outcome into metrics, span attributes and a debug
    log line, and starts the span of each sampled SessionService and Envoy ``Check`` call.
    Health checks and reflection are left alone: probes would drown the numbers."""

    def __init__(self, metrics: ServiceMetrics, tracer: CallTracer | None = None) -> None:
        """``tracer`` None: tracing is off, no call is traced."""
        self._metrics = metrics
        self._tracer = tracer
        # Looking a labelled child up costs more than the observation itself: once per method.
        self._children: dict[str, _MethodMetrics] = {}

    def listening(self, host: str, port: int) -> None:
        """The server's own address, recorded on the spans of sampled calls."""
        if self._tracer is not None:
            self._tracer.listening(host, port)

    def call_started(
        self, method: str, context: Context
    ) -> CallTelemetry | GatewayCallTelemetry | NullObserver:
        """Starts watching one call of ``method`` (a full gRPC method name)."""
        children = self._children.get(method)
        if children is None:
            if not method.startswith("/" + TRACED_SERVICE_PREFIX):
                if self._tracer is not None and method.startswith(_GATEWAY_METHODS):
                    span = self._tracer.start(method, context)
                    if span is not None:
                        return GatewayCallTelemetry(span)
                return UNOBSERVED
            # Only the service's own methods get here (the pipeline wraps known ones): bounded.
            children = self._children[method] = _MethodMetrics(self._metrics, method.rsplit("/", 1)[-1])
        span = self._tracer.start(method, context) if self._tracer is not None else None
        return CallTelemetry(self._metrics, children.method, children, span)


_GATEWAY_METHODS = f"/{GATEWAY_SERVICE}/"


class _MethodMetrics:
    """One method's labelled metric children, looked up once."""

    __slots__ = ("_durations", "_metrics", "in_flight", "method")

    def __init__(self, metrics: ServiceMetrics, method: str) -> None:
        self._metrics = metrics
        self.method = method
        self.in_flight = metrics.rpcs.in_flight(method)
        self._durations: dict[grpc.StatusCode, Latency] = {}

    def duration(self, code: grpc.StatusCode) -> Latency:
        """The duration histogram of this method and ``code``."""
        found = self._durations.get(code)
        if found is None:
            found = self._durations[code] = self._metrics.rpcs.latency(self.method, code.name)
        return found


def _outcome_attributes(method: str, response: Any) -> dict[str, Any]:
    # The span attributes of a call that succeeded (only built while a span records).
    if method in ("Refresh", "Get", "Update"):
        return {FOUND: True}
    if method == "Revoke":
        return {REVOKED_COUNT: response.revoked_count}
    if method == "Introspect":
        return {ACTIVE: response.active}
    if method == "List":
        return {SESSION_COUNT: len(response.sessions)}
    return {}


class CallTelemetry:
    """One call: told its outcome once, then that it ended."""

    __slots__ = ("_children", "_code", "_method", "_metrics", "_reason", "_span", "_started")

    def __init__(
        self,
        metrics: ServiceMetrics,
        method: str,
        children: _MethodMetrics | None = None,
        span: CallSpan | None = None,
    ) -> None:
        """``span``: the call's server span when it is sampled."""
        self._metrics = metrics
        self._method = method
        self._children = children or _MethodMetrics(metrics, method)
        self._started = time.perf_counter()
        self._code: grpc.StatusCode | None = None
        self._reason = ""
        self._span = span
        self._children.in_flight.value += 1

    def succeeded(self, response: Any) -> None:
        """The handler returned ``response``."""
        self._code, self._reason = grpc.StatusCode.OK, "OK"
        m, method = self._metrics, self._method
        if method == "Create":
            m.sessions_created.inc()
        elif method == "Refresh":
            m.sessions_refreshed.inc()
        elif method == "Revoke" and response.revoked_count:
            m.revoked_by_revoke.inc(response.revoked_count)
        if self._span is not None:
            self._span.set_attributes(_outcome_attributes(method, response))

    def failed(self, code: grpc.StatusCode, reason: str, error: BaseException) -> None:
        """The call fails with ``code`` and ErrorInfo ``reason`` because of ``error``."""
        self._code, self._reason = code, reason
        m = self._metrics
        if reason == reasons.REFRESH_TOKEN_REUSED:
            m.refresh_token_reuse.inc()
            m.revoked_by_reuse.inc()
        redis_error = _redis_error_in(error)
        if redis_error is not None:
            m.redis_errors.labels(redis_error).inc()
        if self._span is not None and reason == reasons.SESSION_NOT_FOUND:
            self._span.set_attribute(FOUND, False)

    def ended(self) -> None:
        """The call is over (answered, failed or cancelled)."""
        if self._code is None:  # neither answered nor failed: the caller went away
            self._code, self._reason = grpc.StatusCode.CANCELLED, "CANCELLED"
        code, method = self._code, self._method
        elapsed = time.perf_counter() - self._started
        self._children.in_flight.value -= 1
        self._children.duration(code).observe(elapsed)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s in %.1f ms",
                method,
                self._reason,
                elapsed * 1000,
                extra={
                    "rpc_method": method,
                    "grpc_code": code.name,
                    "outcome": self._reason,
                    "duration_ms": round(elapsed * 1000, 3),
                },
            )
        # Last: the debug line above carries the ids of the span while it is current.
        if self._span is not None:
            self._span.finish(code, self._reason)


def _redis_error_in(error: BaseException) -> str | None:
    """The redis-py class name of the Redis error behind ``error``, if one is (the lane's
    own subclasses count as the redis-py class they extend)."""
    seen: BaseException | None = error
    for _ in range(8):  # the chain is short; the bound guards against cycles
        if seen is None:
            return None
        if isinstance(seen, redis_errors.RedisError):
            return next(c.__name__ for c in type(seen).__mro__ if c.__module__ == redis_errors.__name__)
        seen = seen.__cause__ or seen.__context__
    return None


# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, trace_id and span_id when a
    span is active, the ``extra`` fields, and the exception text.

    An audit event (:mod:`session_service.audit`) is a line like any other: its name is
    the message, its fields stand beside it, and its own time is the line's."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        audit: dict[str, Any] | None = getattr(record, AUDIT_EVENT_ATTRIBUTE, None)
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage() if audit is None else audit["event"],
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = trace.format_trace_id(context.trace_id)
            entry["span_id"] = trace.format_span_id(context.span_id)
        if audit is not None:
            entry.update(audit)
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_") and key != AUDIT_EVENT_ATTRIBUTE:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Sends every log record (and Python warning), audit events included, to ``stream``
    (stderr) as JSON lines."""
    # No line shows the process, thread or multiprocessing name: not collecting them
    # saves a getpid() system call and two look-ups per record (the logging HOWTO's
    # "Optimization"), which shows on every audited call.
    logging.logProcesses = False
    logging.logThreads = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    # Audit events go to the same handler, in the same format; they are written whatever
    # the log level.
    audit = logging.getLogger(AUDIT_LOGGER_NAME)
    for old in list(audit.handlers):
        audit.removeHandler(old)
    audit.setLevel(logging.INFO)
    audit.propagate = True
