"""The one place where errors become gRPC statuses.

A :class:`SessionError` becomes its declared code with a ``google.rpc.Status``
carrying an ErrorInfo (a BadRequest for invalid input, a RetryInfo when the caller
should wait; for a refused DPoP proof, metadata ``error`` and ``dpop_nonce``). A
request that does not even parse is INVALID_ARGUMENT, not the INTERNAL
grpc would report. Anything else is a bug, reported as :data:`INTERNAL_STATUS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from session_wire.dpop import INVALID_DPOP_PROOF, USE_DPOP_NONCE
from session_wire.reasons import ERROR_DOMAIN

from session_service.errors import DpopProofInvalid, FieldViolation, InvalidArgument, SessionError


class _Malformed:
    """Stands in for a request whose bytes did not parse."""


MALFORMED = _Malformed()
"""What :func:`safe_deserializer` hands the handler for a request that did not parse."""

MALFORMED_REQUEST = InvalidArgument([FieldViolation("request", "is not a valid protobuf message")])
"""The error a call with a :data:`MALFORMED` request fails with."""

INTERNAL_STATUS: grpc.Status = rpc_status.to_status(
    status_pb2.Status(code=grpc.StatusCode.INTERNAL.value[0], message="internal error")
)
"""The status of a failure that is no :class:`SessionError` (a bug): it tells nothing more."""


def status_for(error: SessionError) -> grpc.Status:
    """The rich status of an error: code, message, ErrorInfo and, for bad input, BadRequest."""
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN)
    if isinstance(error, DpopProofInvalid):
        # RFC 9449's error code, and the nonce the next proof must carry (section 8).
        info.metadata["error"] = USE_DPOP_NONCE if error.nonce else INVALID_DPOP_PROOF
        if error.nonce:
            info.metadata["dpop_nonce"] = error.nonce
    details = [_pack(info)]
    if isinstance(error, InvalidArgument):
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in error.violations
            ]
        )
        details.append(_pack(bad))
    retry_after = getattr(error, "retry_after_s", None)
    if retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(max(1, int(retry_after * 1e9)))
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    status = status_pb2.Status(code=error.code.value[0], message=error.message, details=details)
    result: grpc.Status = rpc_status.to_status(status)
    return result


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def safe_deserializer(parse: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """``parse``, answering :data:`MALFORMED` for bytes it cannot parse instead of raising
    (grpc would fail the call with INTERNAL before any handler ran)."""
    if parse is None:
        return None

    def deserialize(raw: bytes) -> Any:
        try:
            return parse(raw)
        except (DecodeError, ValueError, TypeError):
            return MALFORMED

    return deserialize
