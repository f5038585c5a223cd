"""One error tree for the client: failed calls and rejected tokens.

A failed call raises a :class:`SessionServiceError` subclass chosen by the ErrorInfo
reason the service attached (``RefreshTokenReused`` for ``REFRESH_TOKEN_REUSED``), or by
the status code when there is no reason (the service unreachable, a deadline). Each
class declares its code and reason once; :func:`from_rpc_error` maps a grpc error to
its class. A token the :class:`~session_client.verifier.Verifier` refuses raises a
:class:`TokenError` subclass, one per failed check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import grpc
from session_wire import reasons
from session_wire.assurance import Challenge

from session_client.status import ErrorDetails, error_details


class SessionClientError(Exception):
    """Root of every error this package raises."""


class SessionServiceError(SessionClientError):
    """A call to session-service failed."""

    code: ClassVar[grpc.StatusCode] = grpc.StatusCode.UNKNOWN
    """The gRPC status code this class stands for."""
    reason: ClassVar[str] = ""
    """The ErrorInfo reason this class stands for ('' for transport-level failures)."""

    def __init__(self, details: ErrorDetails) -> None:
        super().__init__(f"{details.code.name}: {details.message}" if details.message else details.code.name)
        self.details = details
        """Everything the failure reported: code, message, reason, field violations."""

    @property
    def status_code(self) -> grpc.StatusCode:
        """The status code the call actually ended with."""
        return self.details.code

    @property
    def message(self) -> str:
        """The service's human-readable description."""
        return self.details.message


class InvalidArgument(SessionServiceError):
    """The request is malformed or breaks an input limit; see ``field_violations``."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = reasons.INVALID_ARGUMENT

    @property
    def field_violations(self) -> Mapping[str, str]:
        """Offending field → what is wrong with it."""
        return self.details.field_violations


class SessionNotFound(SessionServiceError):
    """The session does not exist, has expired or was revoked."""

    code = grpc.StatusCode.NOT_FOUND
    reason = reasons.SESSION_NOT_FOUND


class RefreshTokenInvalid(SessionServiceError):
    """The refresh token is malformed, unknown, expired or its session ended."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = reasons.REFRESH_TOKEN_INVALID


class RefreshTokenReused(SessionServiceError):
    """An already rotated refresh token came back: the session has been revoked as stolen."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = reasons.REFRESH_TOKEN_REUSED


class VersionMismatch(SessionServiceError):
    """A compare-and-set Update named a version the session is no longer at."""

    code = grpc.StatusCode.ABORTED
    reason = reasons.VERSION_MISMATCH


class SessionLimitReached(SessionServiceError):
    """The user has the maximum number of sessions and the policy refuses new ones."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = reasons.SESSION_LIMIT_REACHED


class SessionDataTooLarge(SessionServiceError):
    """An Update would push the session's data past its limits; nothing was written."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = reasons.SESSION_DATA_TOO_LARGE


class ServiceUnavailable(SessionServiceError):
    """The service could not be reached, or could not serve; safe to retry later."""

    code = grpc.StatusCode.UNAVAILABLE


class StoreUnavailable(ServiceUnavailable):
    """The service is up but its Redis is not reachable."""

    reason = reasons.STORE_UNAVAILABLE


class CallerUnauthenticated(SessionServiceError):
    """The service did not accept this process's credentials (client certificate or caller token)."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = reasons.CALLER_UNAUTHENTICATED


class CallerNotAllowed(SessionServiceError):
    """The service's authorization policy does not allow this caller to call this RPC."""

    code = grpc.StatusCode.PERMISSION_DENIED
    reason = reasons.CALLER_NOT_ALLOWED


class RateLimited(SessionServiceError):
    """A rate limit was hit; ``retry_after`` (seconds, from RetryInfo) says when to retry."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = reasons.RATE_LIMITED

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait before retrying, as the service suggested."""
        return self.details.retry_after


class Overloaded(SessionServiceError):
    """The replica was at its cap of concurrent calls; retry after ``retry_after`` seconds."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = reasons.OVERLOADED

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait before retrying, as the service suggested."""
        return self.details.retry_after


class StoreFull(SessionServiceError):
    """The service's Redis is full: nothing was written (revoking still works)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = reasons.STORE_FULL


class SessionClientMismatch(SessionServiceError):
    """The session belongs to another calling service: this caller may not use its refresh token."""

    code = grpc.StatusCode.PERMISSION_DENIED
    reason = reasons.SESSION_CLIENT_MISMATCH


class DpopProofInvalid(SessionServiceError):
    """The DPoP proof was missing, malformed, replayed or not by the session's key."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = reasons.DPOP_PROOF_INVALID

    @property
    def nonce(self) -> str:
        """The server nonce the next proof must carry (RFC 9449 section 8), '' when none
        was asked for."""
        return self.details.metadata.get("dpop_nonce", "")


class SubjectTokenInvalid(SessionServiceError):
    """Exchange's subject token is not an active access token of the service."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = reasons.SUBJECT_TOKEN_INVALID


class ExchangeNotAllowed(SessionServiceError):
    """The service's policy or the subject token does not allow this exchange."""

    code = grpc.StatusCode.PERMISSION_DENIED
    reason = reasons.EXCHANGE_NOT_ALLOWED


class ReauthenticationRequired(SessionServiceError):
    """The user must authenticate again (then Reauthenticate) before the session refreshes."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = reasons.REAUTHENTICATION_REQUIRED


class DeadlineExceeded(SessionServiceError):
    """The call did not finish within its deadline."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class InternalError(SessionServiceError):
    """The service failed unexpectedly (a bug on its side)."""

    code = grpc.StatusCode.INTERNAL


def _subclasses(cls: type[SessionServiceError]) -> list[type[SessionServiceError]]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


_BY_REASON = {c.reason: c for c in _subclasses(SessionServiceError) if c.reason}
_BY_CODE = {c.code: c for c in (ServiceUnavailable, DeadlineExceeded, InternalError)}


def from_rpc_error(error: grpc.RpcError) -> SessionServiceError:
    """The typed error for a failed call: by ErrorInfo reason, else by status code."""
    details = error_details(error)
    cls = _BY_REASON.get(details.reason) if details.reason else None
    if cls is None or cls.code != details.code:
        cls = _BY_CODE.get(details.code, SessionServiceError)
    return cls(details)


class TokenError(SessionClientError):
    """The Verifier refused an access token."""


class MalformedToken(TokenError):
    """The token is not a well-formed JWS compact serialization."""


class InvalidTokenType(TokenError):
    """The token's ``typ`` header is not ``at+jwt``: not an access token."""


class UnknownSigningKey(TokenError):
    """No key with the token's ``kid`` is known, even after refetching the JWKS."""


class DisallowedAlgorithm(TokenError):
    """The token names an algorithm other than the one pinned to its key."""


class InvalidSignature(TokenError):
    """The signature does not verify with the key."""


class TokenExpired(TokenError):
    """The token's ``exp`` has passed (beyond the leeway)."""


class TokenNotYetValid(TokenError):
    """The token's ``nbf`` or ``iat`` lies in the future (beyond the leeway)."""


class InvalidIssuer(TokenError):
    """The token's ``iss`` is not the expected issuer."""


class InvalidAudience(TokenError):
    """The token's ``aud`` does not include the expected audience."""


class MissingClaim(TokenError):
    """A required claim is missing or has the wrong type."""


class InvalidDpopProof(TokenError):
    """The DPoP proof is missing, malformed, replayed, not for this request or not by the
    key the token is bound to (RFC 9449 section 4.3)."""

    def __init__(self, message: str, error: str = "invalid_dpop_proof") -> None:
        super().__init__(message)
        self.error = error
        """The RFC 9449 error code to answer with (``invalid_dpop_proof``)."""


class DpopBindingMismatch(TokenError):
    """A DPoP-bound token presented as a bearer token, or an unbound token presented with
    a DPoP proof (RFC 9449 section 7.1)."""


class CertificateBindingMismatch(TokenError):
    """A token bound to a client certificate (RFC 8705 ``cnf.x5t#S256``) presented by a
    peer without that certificate."""


class InsufficientUserAuthentication(TokenError):
    """A valid token of a user who authenticated too long ago (``max_age``) or not in a
    way the resource requires (``acr_values``): RFC 9470. ``challenge`` is the 401 and
    its ``WWW-Authenticate`` to answer with, so the client can have the user log in again."""

    def __init__(self, challenge: Challenge) -> None:
        super().__init__(challenge.description)
        self.challenge = challenge
        """Status 401 and the ``insufficient_user_authentication`` challenge."""


class InsufficientScope(TokenError):
    """A valid token without a scope the resource requires (RFC 6750 section 3.1);
    ``challenge`` is the 403 and its ``WWW-Authenticate`` to answer with."""

    def __init__(self, challenge: Challenge) -> None:
        super().__init__(challenge.description)
        self.challenge = challenge
        """Status 403 and the ``insufficient_scope`` challenge."""


class SessionRevoked(TokenError):
    """The token's session has been revoked."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        """Why the session ended: a ``RevocationReason`` name without its prefix
        (``LOGOUT``, ``LOGOUT_EVERYWHERE``, ``LOGOUT_OTHER_DEVICES``, ``ADMINISTRATIVE``,
        ``REFRESH_TOKEN_REUSE``, ``SESSION_LIMIT_EVICTION``), or '' when unknown (learnt
        from Introspect, or from a service that sent none)."""


class RevocationsStale(TokenError):
    """The Verifier cannot vouch that it knows every revocation right now: its view of
    the revocation stream is older than ``max_staleness``, or the stream could not resume
    from its cursor. :meth:`Verifier.verify_async` then asks Introspect instead (unless
    ``stale_policy="reject"``); the synchronous :meth:`Verifier.verify` cannot, and raises
    this."""
