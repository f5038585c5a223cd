"""The client carries the caller's W3C trace context, so service spans join the caller's trace."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from opentelemetry.sdk.trace import TracerProvider

from tests.client.conftest import ClientFactory, serve_manager
from tests.conftest import Running


class _RecordMetadata(grpc.aio.ServerInterceptor):
    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        self.seen.append({k: str(v) for k, v in handler_call_details.invocation_metadata or ()})
        return await continuation(handler_call_details)


async def test_calls_inside_a_span_carry_its_traceparent(svc: Running, connect: ClientFactory) -> None:
    recorder = _RecordMetadata()
    server, port = await serve_manager(svc.service.manager, [recorder])
    try:
        client = await connect(f"127.0.0.1:{port}")
        tracer = TracerProvider().get_tracer("caller")
        with tracer.start_as_current_span("login") as span:
            created = await client.create("traced")
        await client.get(created.session.session_id)  # outside any span
        context = span.get_span_context()
        # version-traceid-parentid-flags: the caller's trace and span
        _, trace_id, parent_id, _ = recorder.seen[0]["traceparent"].split("-")
        assert (trace_id, parent_id) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
        assert "traceparent" not in recorder.seen[1]
    finally:
        await server.stop(0)
