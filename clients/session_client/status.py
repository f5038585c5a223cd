"""Reads the rich error details (google.rpc.Status) that session-service attaches to failures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


@dataclass(frozen=True)
class ErrorDetails:
    """What a failed call reports."""

    code: grpc.StatusCode
    """The gRPC status code."""
    message: str
    """Human-readable description."""
    reason: str = ""
    """The stable ErrorInfo reason, e.g. REFRESH_TOKEN_REUSED."""
    domain: str = ""
    """The ErrorInfo domain, "session.v1"."""
    field_violations: dict[str, str] = field(default_factory=dict)
    """For INVALID_ARGUMENT: offending field → description."""
    retry_after: float | None = None
    """From a google.rpc.RetryInfo: seconds to wait before retrying (RATE_LIMITED, OVERLOADED)."""
    metadata: dict[str, str] = field(default_factory=dict)
    """The ErrorInfo metadata, e.g. ``dpop_nonce`` for DPOP_PROOF_INVALID."""


def error_details(error: grpc.RpcError) -> ErrorDetails:
    """Decodes the status, ErrorInfo and BadRequest of a failed call."""
    # Both grpc.Call errors and grpc.aio.AioRpcError carry code(), details() and trailers.
    if not all(hasattr(error, m) for m in ("code", "details", "trailing_metadata")):
        return ErrorDetails(grpc.StatusCode.UNKNOWN, str(error))
    call: Any = error
    code, message = call.code(), call.details() or ""
    try:
        status = rpc_status.from_call(call)
    except ValueError:  # trailers that contradict the status: trust the status only
        status = None
    if status is None:
        return ErrorDetails(code, message)
    reason = domain = ""
    metadata: dict[str, str] = {}
    violations: dict[str, str] = {}
    retry_after: float | None = None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason, domain, metadata = info.reason, info.domain, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = {v.field: v.description for v in bad.field_violations}
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            retry_after = retry.retry_delay.ToNanoseconds() / 1e9
    return ErrorDetails(code, message, reason, domain, violations, retry_after, metadata)
