"""A grpc.aio server interceptor that authenticates calls with a :class:`~session_client.verifier.Verifier`.

::

    verifier = Verifier(SessionClient("session-service:50051", tls=TlsConfig(root_certificates=ca)))
    await verifier.start()
    server = grpc.aio.server(interceptors=[SessionAuthInterceptor(verifier)])

    class Orders(orders_pb2_grpc.OrdersServicer):
        async def Get(self, request, context):
            user = current_token().subject
            ...

A call without valid ``authorization: Bearer <access token>`` metadata fails
UNAUTHENTICATED before the handler runs; inside a handler, :func:`current_token` gives
the verified token.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import grpc

from session_client.errors import RevocationsStale, TokenError
from session_client.verifier import VerifiedToken, Verifier

if TYPE_CHECKING:  # the stubs make it generic; the runtime class is not
    Handler = grpc.RpcMethodHandler[Any, Any]
else:
    Handler = grpc.RpcMethodHandler

HEALTH_METHODS = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})
"""Exempt by default: probes carry no user token."""

_current: ContextVar[VerifiedToken | None] = ContextVar("session_client_access_token", default=None)


def current_token() -> VerifiedToken:
    """The verified token of the call being handled; LookupError outside an authenticated call."""
    token = _current.get()
    if token is None:
        raise LookupError("no authenticated call in this context")
    return token


def bearer_token(metadata: Any) -> str | None:
    """The token of exactly one ``authorization: Bearer`` metadata entry."""
    values = [v for k, v in (metadata or ()) if k == "authorization"]
    if len(values) != 1:
        return None
    value = values[0].decode("latin-1") if isinstance(values[0], bytes) else values[0]
    scheme, _, token = value.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class SessionAuthInterceptor(grpc.aio.ServerInterceptor):
    """Runs a handler only for a call with a valid, unrevoked access token."""

    def __init__(self, verifier: Verifier, *, exempt_methods: Collection[str] = HEALTH_METHODS) -> None:
        self._verifier = verifier
        self._exempt = frozenset(exempt_methods)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method in self._exempt:
            return handler
        token = bearer_token(handler_call_details.invocation_metadata)
        if token is None:
            return _denied(handler, grpc.StatusCode.UNAUTHENTICATED, "a Bearer access token is required")
        try:
            verified = await self._verifier.verify_async(token)
        except RevocationsStale as e:
            return _denied(handler, grpc.StatusCode.UNAVAILABLE, str(e))
        except TokenError as e:
            return _denied(handler, grpc.StatusCode.UNAUTHENTICATED, f"{type(e).__name__}: {e}")
        return _with_token(handler, verified)


def _rebuild(handler: Handler, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Handler:
    kinds = (
        (handler.unary_unary, grpc.unary_unary_rpc_method_handler),
        (handler.unary_stream, grpc.unary_stream_rpc_method_handler),
        (handler.stream_unary, grpc.stream_unary_rpc_method_handler),
        (handler.stream_stream, grpc.stream_stream_rpc_method_handler),
    )
    for behavior, build in kinds:
        if behavior is not None:
            rebuilt: Handler = build(
                wrap(behavior),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
            return rebuilt
    return handler


def _with_token(handler: Handler, verified: VerifiedToken) -> Handler:
    # The token is set inside the wrapped behaviour, i.e. in the call's own task.
    def wrap(behavior: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.isasyncgenfunction(behavior):

            async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
                reset = _current.set(verified)
                try:
                    async for response in behavior(request, context):
                        yield response
                finally:
                    _current.reset(reset)

            return stream

        async def call(request: Any, context: Any) -> Any:
            reset = _current.set(verified)
            try:
                result = behavior(request, context)
                return await result if inspect.isawaitable(result) else result
            finally:
                _current.reset(reset)

        return call

    return _rebuild(handler, wrap)


def _denied(handler: Handler, code: grpc.StatusCode, message: str) -> Handler:
    def wrap(behavior: Callable[..., Any]) -> Callable[..., Any]:
        async def deny(request: Any, context: Any) -> None:
            await context.abort(code, message)

        return deny

    return _rebuild(handler, wrap)
