"""ErrorInfo reasons, as the strings callers match on, from the proto's ``ErrorReason`` enum.

The enum in ``protos/session/v1/errors.proto`` is the one declaration; this module only
turns its values into the strings sent on the wire, so a reason cannot be misspelt on
one side.
"""

from __future__ import annotations

from session_wire.v1.errors_pb2 import ErrorReason

ERROR_DOMAIN = "session.v1"
"""The ErrorInfo ``domain`` of every reason below."""


def _name(value: int) -> str:
    return ErrorReason.Name(value)  # type: ignore[arg-type]


INVALID_ARGUMENT = _name(ErrorReason.INVALID_ARGUMENT)
SESSION_NOT_FOUND = _name(ErrorReason.SESSION_NOT_FOUND)
REFRESH_TOKEN_INVALID = _name(ErrorReason.REFRESH_TOKEN_INVALID)
REFRESH_TOKEN_REUSED = _name(ErrorReason.REFRESH_TOKEN_REUSED)
VERSION_MISMATCH = _name(ErrorReason.VERSION_MISMATCH)
SESSION_LIMIT_REACHED = _name(ErrorReason.SESSION_LIMIT_REACHED)
SESSION_DATA_TOO_LARGE = _name(ErrorReason.SESSION_DATA_TOO_LARGE)
STORE_UNAVAILABLE = _name(ErrorReason.STORE_UNAVAILABLE)
CALLER_UNAUTHENTICATED = _name(ErrorReason.CALLER_UNAUTHENTICATED)
CALLER_NOT_ALLOWED = _name(ErrorReason.CALLER_NOT_ALLOWED)
RATE_LIMITED = _name(ErrorReason.RATE_LIMITED)
OVERLOADED = _name(ErrorReason.OVERLOADED)
STORE_FULL = _name(ErrorReason.STORE_FULL)
SESSION_CLIENT_MISMATCH = _name(ErrorReason.SESSION_CLIENT_MISMATCH)
DPOP_PROOF_INVALID = _name(ErrorReason.DPOP_PROOF_INVALID)
SUBJECT_TOKEN_INVALID = _name(ErrorReason.SUBJECT_TOKEN_INVALID)
EXCHANGE_NOT_ALLOWED = _name(ErrorReason.EXCHANGE_NOT_ALLOWED)
REAUTHENTICATION_REQUIRED = _name(ErrorReason.REAUTHENTICATION_REQUIRED)

ALL: frozenset[str] = frozenset(
    name for name in ErrorReason.keys() if ErrorReason.Value(name) != ErrorReason.ERROR_REASON_UNSPECIFIED
)
"""Every reason the service may send."""
