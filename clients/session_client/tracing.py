"""W3C trace context on outgoing calls, when OpenTelemetry is installed.

With ``opentelemetry-api`` importable, every call made inside an active span carries
the span's ``traceparent`` (and ``tracestate``) in its metadata, so the service's span
becomes a child of the caller's. Without it, or outside a span, calls are unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

try:
    from opentelemetry import propagate
except ImportError:  # tracing is optional for the client
    propagate = None  # type: ignore[assignment]


def _with_trace_context(details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
    carrier: dict[str, str] = {}
    if propagate is not None:
        propagate.inject(carrier)
    if not carrier:
        return details
    metadata = grpc.aio.Metadata(*(details.metadata or ()))
    for key, value in carrier.items():
        metadata.add(key, value)
    return grpc.aio.ClientCallDetails(
        details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
    )


class TraceContextInterceptor(grpc.aio.UnaryUnaryClientInterceptor, grpc.aio.UnaryStreamClientInterceptor):
    """Adds the current span's W3C trace context to every call's metadata."""

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(_with_trace_context(client_call_details), request)

    async def intercept_unary_stream(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(_with_trace_context(client_call_details), request)


def tracing_interceptors() -> list[Any]:
    """The interceptors a channel needs to propagate trace context (none without OpenTelemetry)."""
    return [TraceContextInterceptor()] if propagate is not None else []
