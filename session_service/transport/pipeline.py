"""The call pipeline every handler is registered behind: each call is guarded (caller
authentication and authorization), admitted within the replica's bounds, given its
deadline, and observed; its errors become statuses (:mod:`session_service.transport.status`).
An error that is no SessionError is a bug: logged (without the request, which may hold
tokens) and reported as INTERNAL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

import grpc

from session_service.deadline import call_deadline
from session_service.errors import SessionError
from session_service.transport.status import (
    INTERNAL_STATUS,
    MALFORMED,
    MALFORMED_REQUEST,
    safe_deserializer,
    status_for,
)

log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]
if TYPE_CHECKING:  # the stubs make it generic; the runtime class is not
    Handler = grpc.RpcMethodHandler[Any, Any]
else:
    Handler = grpc.RpcMethodHandler


class CallObserver(Protocol):
    """Hears how one call ends (metrics, tracing: see :mod:`session_service.telemetry`)."""

    def succeeded(self, response: Any) -> None:
        """The handler answered ``response``."""

    def failed(self, code: grpc.StatusCode, reason: str, error: BaseException) -> None:
        """The call fails with ``code`` and ErrorInfo ``reason`` because of ``error``."""

    def ended(self) -> None:
        """The call is over: answered, failed or cancelled."""


class RpcObserver(Protocol):
    """Told about every call the pipeline wraps."""

    def call_started(self, method: str, context: Context) -> CallObserver:
        """A call of ``method`` (full gRPC name) starts; what it observes of the call (its
        span, when tracing samples it) is current until ``ended``."""
        ...


class NullObserver:
    """Observes nothing: the observer of calls nobody watches, and of each such call."""

    def call_started(self, method: str, context: Context) -> NullObserver:
        """Itself: the call goes unobserved."""
        return self

    def succeeded(self, response: Any) -> None:
        """Nothing to record."""

    def failed(self, code: grpc.StatusCode, reason: str, error: BaseException) -> None:
        """Nothing to record."""

    def ended(self) -> None:
        """Nothing to record."""


UNOBSERVED = NullObserver()
"""The one null observer."""


async def _fail(context: Context, call: CallObserver, method: str, error: Exception) -> None:
    """Ends the call with the status of ``error`` (raises, as abort_with_status does)."""
    if isinstance(error, SessionError):
        call.failed(error.code, error.reason, error)
        await context.abort_with_status(status_for(error))
    log.error("unexpected error in %s", method, exc_info=error)
    call.failed(grpc.StatusCode.INTERNAL, "INTERNAL", error)
    await context.abort_with_status(INTERNAL_STATUS)


_OPEN_TO_ALL = ("/grpc.health.v1.Health/",)
"""Methods no guard or bound applies to."""


class CallGuard(Protocol):
    """Decides whether a call may go on (caller authentication and authorization)."""

    def authorize(self, rpc: str, request: Any, context: Context) -> None:
        """Returns when a call of ``rpc`` (the method's short name) may go on; raises a
        SessionError otherwise."""


class CallBounds(Protocol):
    """Admits a call within the replica's bounds (see :mod:`session_service.transport.admission`)."""

    def enter(self, context: Context, request: Any, *, watch: bool) -> str:
        """Admits the call or raises a SessionError; returns the caller ``leave`` takes."""
        ...

    def leave(self, caller: str, *, watch: bool) -> None:
        """An admitted call of ``caller`` has ended."""


async def _admit(
    guard: CallGuard | None,
    bounds: CallBounds | None,
    context: Context,
    call: CallObserver,
    method: str,
    rpc: str,
    request: Any,
    *,
    watch: bool = False,
) -> str | None:
    # Before the request is even looked at: a caller who may not call learns nothing more.
    # Returns the caller bounds.leave must be told of, None when no bounds admitted it.
    admitted = None
    try:
        if guard is not None:
            guard.authorize(rpc, request, context)
        if bounds is not None:
            admitted = bounds.enter(context, request, watch=watch)
    except SessionError as e:
        await _fail(context, call, method, e)
    if request is MALFORMED:
        if admitted is not None and bounds is not None:
            bounds.leave(admitted, watch=watch)
        await _fail(context, call, method, MALFORMED_REQUEST)
    return admitted


def _wrap(
    inner: Callable[[Any, Any], Awaitable[Any]],
    method: str,
    observer: RpcObserver,
    guard: CallGuard | None,
    bounds: CallBounds | None,
) -> Any:
    rpc = method.rpartition("/")[2]

    async def behavior(request: Any, context: Context) -> Any:
        call = observer.call_started(method, context)
        admitted = None
        try:
            admitted = await _admit(guard, bounds, context, call, method, rpc, request)
            time_left = context.time_remaining()
            if time_left is not None:
                # Each call runs in its own task, so this does not leak into other calls.
                call_deadline.set(time.monotonic() + time_left)
            try:
                response = await inner(request, context)
            except Exception as e:
                await _fail(context, call, method, e)
            call.succeeded(response)
            return response
        finally:
            if admitted is not None and bounds is not None:
                bounds.leave(admitted, watch=False)
            call.ended()

    return behavior


def _wrap_stream(
    inner: Callable[[Any, Any], Any],
    method: str,
    observer: RpcObserver,
    guard: CallGuard | None,
    bounds: CallBounds | None,
) -> Any:
    # Server-streaming handlers (WatchRevocations): the same mapping, also for errors raised
    # after responses have been sent (e.g. Redis going away in the middle of a watch).
    rpc = method.rpartition("/")[2]

    async def behavior(request: Any, context: Context) -> AsyncIterator[Any]:
        call = observer.call_started(method, context)
        admitted = None
        try:
            admitted = await _admit(guard, bounds, context, call, method, rpc, request, watch=True)
            try:
                async for response in inner(request, context):
                    yield response
            except Exception as e:
                await _fail(context, call, method, e)
            call.succeeded(None)
        finally:
            if admitted is not None and bounds is not None:
                bounds.leave(admitted, watch=True)
            call.ended()

    return behavior


def _guard_bidi(inner: Callable[[Any, Any], Any], method: str, guard: CallGuard) -> Any:
    # Bidirectional streams (server reflection) are only guarded: the caller check runs
    # before the first request is read.
    rpc = method.rpartition("/")[2]

    async def behavior(requests: Any, context: Context) -> AsyncIterator[Any]:
        try:
            guard.authorize(rpc, None, context)
        except SessionError as e:
            await context.abort_with_status(status_for(e))
        async for response in inner(requests, context):
            yield response

    return behavior


class CallWrapper:
    """Maps errors of unary and server-streaming handlers to statuses, guards and admits
    each call, and observes its outcome; each method's handler is wrapped once, when it is
    registered (see :class:`WrappingRegistrar`).

    ``observer`` hears each call's outcome (metrics, span attributes).
    """

    def __init__(
        self,
        observer: RpcObserver | None = None,
        guard: CallGuard | None = None,
        bounds: CallBounds | None = None,
    ) -> None:
        """``guard`` authenticates and authorizes each call, then ``bounds`` admits it
        within the replica's limits, both before its handler runs."""
        self._observer: RpcObserver = observer or UNOBSERVED
        self._guard = guard
        self._bounds = bounds

    def wrap_handler(self, method: str, handler: Handler) -> Handler:
        """``handler`` of the full method name ``method`` with errors mapped, the call
        guarded and admitted, and its outcome observed."""
        wrapped = handler
        # Decided once per method, not per call: health checks carry no credentials (probes)
        # and must keep answering under load, so they are neither guarded nor bounded.
        guard, bounds = (None, None) if method.startswith(_OPEN_TO_ALL) else (self._guard, self._bounds)
        if handler.unary_unary is not None:
            wrapped = grpc.unary_unary_rpc_method_handler(
                _wrap(handler.unary_unary, method, self._observer, guard, bounds),
                request_deserializer=safe_deserializer(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        elif handler.unary_stream is not None:
            wrapped = grpc.unary_stream_rpc_method_handler(
                _wrap_stream(handler.unary_stream, method, self._observer, guard, bounds),
                request_deserializer=safe_deserializer(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        elif handler.stream_stream is not None and guard is not None:
            wrapped = grpc.stream_stream_rpc_method_handler(
                _guard_bidi(handler.stream_stream, method, guard),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return wrapped


class WrappingRegistrar:
    """Stands in for a ``grpc.aio.Server`` in the generated ``add_*_to_server`` functions
    and registers every handler already wrapped by a :class:`CallWrapper`.

    Not a server interceptor, on purpose: grpc.aio runs an interceptor's
    ``intercept_service`` coroutine for every call, even when it only returns a cached
    handler (about a tenth of a Get's CPU time here)."""

    def __init__(self, server: grpc.aio.Server, wrapper: CallWrapper) -> None:
        self._server = server
        self._wrapper = wrapper

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        """Registers each generic handler behind one that wraps what it finds."""
        self._server.add_generic_rpc_handlers([_WrappedGeneric(h, self._wrapper) for h in handlers])

    def add_registered_method_handlers(self, service: str, handlers: Mapping[str, Handler]) -> None:
        """Registers the methods of ``service``, each wrapped once, here."""
        wrapped: dict[str, Handler] = {}
        for name, handler in handlers.items():
            wrapped[name] = self._wrapper.wrap_handler(f"/{service}/{name}", handler)
        self._server.add_registered_method_handlers(service, wrapped)

    def as_server(self) -> grpc.aio.Server:
        """This registrar, typed as what the generated functions accept (they only register)."""
        return cast("grpc.aio.Server", self)


class _WrappedGeneric(grpc.GenericRpcHandler):
    def __init__(self, inner: grpc.GenericRpcHandler, wrapper: CallWrapper) -> None:
        self._inner = inner
        self._wrapper = wrapper
        self._handlers: dict[str, Handler | None] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Handler | None:
        method = handler_call_details.method
        if method in self._handlers:
            return self._handlers[method]
        handler = self._inner.service(handler_call_details)
        if handler is None:  # not this handler's method: unknown names are not cached
            return None
        wrapped = self._handlers[method] = self._wrapper.wrap_handler(method, handler)
        return wrapped
