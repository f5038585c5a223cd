"""Reads the rich error details (google.rpc.Status) that session-service attaches to failures."""

from __future__ import annotations

from dataclasses import dataclass, field

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


def error_details(error: grpc.RpcError) -> ErrorDetails:
    """Decodes the status, ErrorInfo and BadRequest of a failed call."""
    call = error if isinstance(error, grpc.Call) else None
    code = call.code() if call is not None else grpc.StatusCode.UNKNOWN
    message = (call.details() if call is not None else str(error)) or ""
    status = rpc_status.from_call(call) if call is not None else None
    if status is None:
        return ErrorDetails(code, message)
    reason = domain = ""
    violations: dict[str, str] = {}
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason, domain = info.reason, info.domain
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = {v.field: v.description for v in bad.field_violations}
    return ErrorDetails(code, message, reason, domain, violations)
