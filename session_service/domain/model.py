"""The session as the rest of the service sees it; plain values, no I/O."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ClientInfo:
    """Where a session was started from, as reported by the caller."""

    ip: str = ""
    """The client's IP address."""
    user_agent: str = ""
    """The client's User-Agent string."""
    device: str = ""
    """A device name the caller chose (e.g. "iPhone of Alice")."""


@dataclass(frozen=True)
class IdpSession:
    """A session at an upstream identity provider: the ``iss``, ``sub`` and ``sid`` of the
    ID token the login service received. Back-channel logouts and shared signals name it."""

    issuer: str
    """The identity provider's issuer identifier."""
    subject: str = ""
    """The user at the identity provider ('' when not given)."""
    session_id: str = ""
    """The identity provider's session id ('' when it sends none)."""


@dataclass(frozen=True)
class NewSession:
    """What Create asks for, validated."""

    user_id: str
    """The authenticated user; the access tokens' sub claim."""
    claims: Mapping[str, str] = field(default_factory=dict)
    """Extra claims copied into every access token."""
    data: Mapping[str, bytes] = field(default_factory=dict)
    """Application data kept on the server."""
    scopes: tuple[str, ...] = ()
    """Granted scopes; the access tokens' scope claim."""
    client: ClientInfo = field(default_factory=ClientInfo)
    """The device the session was started from."""
    client_id: str = ""
    """The application the session is for; the access tokens' client_id claim."""
    cnf_jkt: str = ""
    """Thumbprint of the DPoP key to bind the session to ('' for bearer tokens)."""
    idp: IdpSession | None = None
    """The identity provider's session the login came from (single sign-on)."""
    acr: str = ""
    """How the user authenticated: Authentication Context Class Reference ('' when not said)."""
    amr: tuple[str, ...] = ()
    """Authentication Methods References (RFC 8176), e.g. ``pwd``, ``otp``, ``hwk``."""
    auth_time_ms: int = 0
    """When the user authenticated (ms since the epoch); 0 means at Create."""
    impersonator: str = ""
    """The operator acting as the user ('' unless an impersonation session)."""


@dataclass(frozen=True)
class Session:
    """A live session as stored; all times are milliseconds since the Unix epoch."""

    session_id: str
    """Opaque identifier; also the access tokens' sid claim. Not a credential."""
    user_id: str
    """The session's user."""
    created_at_ms: int
    """When Create ran."""
    last_active_at_ms: int
    """When the session was last read, refreshed or updated."""
    idle_expires_at_ms: int
    """When the session ends unless used before; never after the absolute expiry."""
    absolute_expires_at_ms: int
    """When the session ends at the latest."""
    version: int
    """Incremented by every data update."""
    data: Mapping[str, bytes]
    """Application data."""
    claims: Mapping[str, str]
    """Extra access-token claims."""
    scopes: tuple[str, ...]
    """Granted scopes."""
    client: ClientInfo
    """The device the session was started from."""
    client_id: str
    """The application the session is for."""
    cnf_jkt: str = ""
    """RFC 7638 thumbprint of the DPoP key the session is bound to; '' for bearer tokens."""
    idp: IdpSession | None = None
    """The identity provider's session the login came from; None when not given."""
    acr: str = ""
    """How the user last authenticated (Authentication Context Class Reference)."""
    amr: tuple[str, ...] = ()
    """Authentication Methods References (RFC 8176) of the last authentication."""
    auth_time_ms: int = 0
    """When the user last authenticated (ms since the epoch); 0 for a session stored
    without it (then its creation counts)."""
    last_client: ClientInfo | None = None
    """The client the session was last used from (Refresh, a gateway request); None
    before the first such use that said who it was."""
    impersonator: str = ""
    """The operator acting as the user in an impersonation session ('' otherwise): its
    tokens carry ``act: {"sub": impersonator}`` and it is never refreshed."""


@dataclass(frozen=True)
class DataPatch:
    """An atomic change to a session's data."""

    set: Mapping[str, bytes]
    """Entries to add or overwrite."""
    remove: tuple[str, ...]
    """Keys to delete."""
    expected_version: int = 0
    """When above 0, apply only if the session is at this version."""


@dataclass(frozen=True)
class IssuedTokens:
    """A session with a fresh pair of tokens, as Create and Refresh return it."""

    session: Session
    """The session the tokens belong to."""
    access_token: str
    """A signed JWT."""
    access_token_expires_at: int
    """NumericDate seconds."""
    refresh_token: str
    """Opaque; exchangeable once for a new pair."""
    refresh_token_expires_at_ms: int
    """The refresh token must be used before the session's idle expiry."""


@dataclass(frozen=True)
class Introspection:
    """The RFC 7662 view of a token; ``active`` False carries nothing else."""

    active: bool
    """Whether the token is valid and its session live."""
    sub: str = ""
    """The user."""
    sid: str = ""
    """The session."""
    scope: str = ""
    """Space-separated scopes."""
    client_id: str = ""
    """The application."""
    token_type: str = ""
    """access_token or refresh_token."""
    exp: int = 0
    """Expiry, NumericDate."""
    iat: int = 0
    """Issue time, NumericDate."""
    nbf: int = 0
    """Not-before, NumericDate."""
    iss: str = ""
    """Issuer."""
    aud: str = ""
    """Audience."""
    jti: str = ""
    """Token id (access tokens only)."""
    cnf_jkt: str = ""
    """Thumbprint of the DPoP key the token is bound to ('' for a bearer token)."""
    cnf_x5t: str = ""
    """Thumbprint of the client certificate the token is bound to (RFC 8705; '' when not)."""
    act: str = ""
    """The ``act`` claim as compact JSON (RFC 8693 section 4.1); '' when nobody acts."""
    acr: str = ""
    """How the user authenticated (RFC 9470); '' when the token does not say."""
    amr: tuple[str, ...] = ()
    """With which methods (RFC 8176)."""
    auth_time: int = 0
    """When, NumericDate; 0 when the token does not say."""


INACTIVE = Introspection(active=False)


class RevocationReason(enum.Enum):
    """Why sessions ended; the wire names are ``REVOCATION_REASON_<NAME>``."""

    LOGOUT = "logout"
    """The user logged out of this session."""
    LOGOUT_EVERYWHERE = "logout_everywhere"
    """The user logged out of all their sessions."""
    LOGOUT_OTHER_DEVICES = "logout_other_devices"
    """The user logged out of all their sessions but the current one."""
    ADMINISTRATIVE = "administrative"
    """Someone else (support, security tooling) ended them on the user's behalf."""
    REFRESH_TOKEN_REUSE = "refresh_token_reuse"
    """A rotated refresh token came back: the session was presumed stolen."""
    SESSION_LIMIT_EVICTION = "session_limit_eviction"
    """A new session pushed the user past the per-user limit."""
    SESSION_ROTATED = "session_rotated"
    """Reauthenticate gave the session a new id; the old id ended."""
    RISK_POLICY = "risk_policy"
    """A risk signal's configured action ended the session."""
    IDP_LOGOUT = "idp_logout"
    """The identity provider logged the user out (OIDC Back-Channel Logout)."""
    SHARED_SIGNAL = "shared_signal"
    """An upstream transmitter's security event (CAEP, RISC) ended the session."""


CALLER_REASONS = frozenset(
    {
        RevocationReason.LOGOUT,
        RevocationReason.LOGOUT_EVERYWHERE,
        RevocationReason.LOGOUT_OTHER_DEVICES,
        RevocationReason.ADMINISTRATIVE,
    }
)
"""Reasons a Revoke caller may give; the others only the service itself decides."""


def default_revocation_reason(target: str, keeps_one: bool = False) -> RevocationReason:
    """The reason a Revoke that gives none stands for, by what it names (``session_id``,
    ``refresh_token``, ``access_token`` or ``user_id``, the latter keeping one session or not)."""
    if target == "user_id":
        return RevocationReason.LOGOUT_OTHER_DEVICES if keeps_one else RevocationReason.LOGOUT_EVERYWHERE
    return RevocationReason.LOGOUT


@dataclass(frozen=True)
class SessionsEnded:
    """One end of sessions that verifiers must learn about (and an audit trail records)."""

    reason: RevocationReason
    """Why they ended."""
    session_ids: tuple[str, ...]
    """The live sessions that ended; empty when there was nothing to end."""
    user_id: str = ""
    """Their user, when the operation named or found it ('' otherwise)."""
    impersonators: Mapping[str, str] = field(default_factory=dict)
    """Of the ended sessions that were impersonation sessions, the operator, by session id."""
