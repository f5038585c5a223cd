"""One error tree for the whole service.

Every class declares its gRPC status code and its stable ErrorInfo reason once;
the transport layer turns any :class:`SessionError` into a ``google.rpc.Status``
with those values, so callers can branch on ``reason`` without parsing text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from session_wire import reasons


@dataclass(frozen=True)
class FieldViolation:
    """One offending request field, reported in a ``google.rpc.BadRequest``."""

    field: str
    """Path of the field, e.g. ``claims["iss"]``."""
    description: str
    """What is wrong with it, for a human."""


class SessionError(Exception):
    """Root of every error the service reports to callers."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    reason: str = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(SessionError):
    """The request is malformed or breaks an input limit."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = reasons.INVALID_ARGUMENT

    def __init__(self, violations: Sequence[FieldViolation]) -> None:
        self.violations = tuple(violations)
        summary = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(f"invalid request: {summary}")


class SessionNotFound(SessionError):
    """The session does not exist, has expired or was revoked."""

    code = grpc.StatusCode.NOT_FOUND
    reason = reasons.SESSION_NOT_FOUND

    def __init__(self) -> None:
        super().__init__("session not found, expired or revoked")


class RefreshTokenInvalid(SessionError):
    """The refresh token is malformed, unknown, expired or belongs to an ended session."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = reasons.REFRESH_TOKEN_INVALID

    def __init__(self) -> None:
        super().__init__("refresh token is invalid or expired")


class RefreshTokenReused(SessionError):
    """An already rotated refresh token was presented: the session was revoked as stolen."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = reasons.REFRESH_TOKEN_REUSED

    def __init__(self, user_id: str = "") -> None:
        super().__init__("refresh token was already used; the session has been revoked")
        self.user_id = user_id
        """The session's user, for the audit trail ('' when not known); never sent to the caller."""


class VersionMismatch(SessionError):
    """A compare-and-set update named a version the session is no longer at."""

    code = grpc.StatusCode.ABORTED
    reason = reasons.VERSION_MISMATCH

    def __init__(self, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"session is at version {actual}, not {expected}")


class SessionLimitReached(SessionError):
    """The user already has the maximum number of sessions and the policy is reject-new."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = reasons.SESSION_LIMIT_REACHED

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"user already has the maximum of {limit} sessions")


class SessionDataTooLarge(SessionError):
    """An update would make the session's data exceed its limits."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = reasons.SESSION_DATA_TOO_LARGE

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        super().__init__(f"session data would exceed its limits ({max_entries} entries, {max_bytes} bytes)")


class StoreUnavailable(SessionError):
    """Redis could not be reached or did not answer in time."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = reasons.STORE_UNAVAILABLE

    def __init__(self, detail: str = "session store is unavailable") -> None:
        super().__init__(detail)


class CallerUnauthenticated(SessionError):
    """The caller presented no credentials, or credentials that do not verify."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = reasons.CALLER_UNAUTHENTICATED

    def __init__(self, detail: str = "caller is not authenticated") -> None:
        super().__init__(detail)


class CallerNotAllowed(SessionError):
    """The authorization policy does not allow this caller to call this RPC."""

    code = grpc.StatusCode.PERMISSION_DENIED
    reason = reasons.CALLER_NOT_ALLOWED

    def __init__(self, rpc: str, detail: str = "") -> None:
        self.rpc = rpc
        super().__init__(f"caller is not allowed to call {rpc}" + (f": {detail}" if detail else ""))


class RateLimited(SessionError):
    """A rate limit was hit; ``retry_after_s`` says when a retry may succeed."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = reasons.RATE_LIMITED

    def __init__(self, what: str, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"rate limit reached for {what}; retry in {retry_after_s:.1f}s")


class Overloaded(SessionError):
    """This replica is at its cap of concurrent calls or watchers."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = reasons.OVERLOADED

    def __init__(self, what: str, retry_after_s: float = 0.1) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"server is overloaded: too many {what}")


class StoreFull(SessionError):
    """Redis is out of memory and refuses new data; nothing was written."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = reasons.STORE_FULL

    def __init__(self) -> None:
        super().__init__("session store is full; nothing was written (revoking sessions still works)")


class SessionClientMismatch(SessionError):
    """A refresh token was presented by a caller that may not act on its session."""

    code = grpc.StatusCode.PERMISSION_DENIED
    reason = reasons.SESSION_CLIENT_MISMATCH

    def __init__(self) -> None:
        super().__init__("the session belongs to another calling service")


class DpopProofInvalid(SessionError):
    """A DPoP proof is missing, malformed, replayed, or not by the session's key.

    ``nonce``, when set, is the server nonce the next proof must carry (RFC 9449 section 8)."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = reasons.DPOP_PROOF_INVALID

    def __init__(self, detail: str, nonce: str = "") -> None:
        self.nonce = nonce
        super().__init__(f"DPoP proof invalid: {detail}")


class SubjectTokenInvalid(SessionError):
    """Exchange's subject token is not an active access token of this service."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = reasons.SUBJECT_TOKEN_INVALID

    def __init__(self) -> None:
        super().__init__("the subject token is not an active access token")


class ExchangeNotAllowed(SessionError):
    """The requested exchange exceeds what the policy or the subject token allows."""

    code = grpc.StatusCode.PERMISSION_DENIED
    reason = reasons.EXCHANGE_NOT_ALLOWED

    def __init__(self, detail: str) -> None:
        super().__init__(f"exchange not allowed: {detail}")


class ReauthenticationRequired(SessionError):
    """The session must be re-authenticated before it can be refreshed again."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = reasons.REAUTHENTICATION_REQUIRED

    def __init__(self) -> None:
        super().__init__("the session must be re-authenticated (Reauthenticate) before it is refreshed")


class ConfigError(Exception):
    """The service's configuration is invalid; raised at start, naming the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        super().__init__(f"{setting}: {problem}")


class KeyringError(ConfigError):
    """The signing keys could not be loaded or do not fit the configuration."""

    def __init__(self, problem: str) -> None:
        super().__init__("SESSION_KEYS_DIR", problem)
