"""What the domain needs from the outside: a session store, an access-token codec and a
feed of revocations."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from session_service.domain.assurance import Authentication
from session_service.domain.ids import RefreshToken, SessionId
from session_service.domain.model import (
    ClientInfo,
    DataPatch,
    NewSession,
    RevocationReason,
    Session,
    SessionsEnded,
)
from session_service.domain.risk import Activity


@dataclass(frozen=True)
class SessionPolicy:
    """Lifetimes and limits applied to every session; times in milliseconds."""

    idle_ms: int
    """Inactivity after which a session ends."""
    absolute_ms: int
    """Lifetime after which a session ends regardless of activity."""
    refresh_grace_ms: int
    """How long a rotated refresh token still yields its successor."""
    max_sessions: int
    """Sessions per user; 0 is unlimited."""
    reject_new: bool
    """At the limit, refuse the new session instead of ending the least recently active."""
    max_data_entries: int
    """Data entries a session may hold."""
    max_data_bytes: int
    """Bytes of data keys and values a session may hold."""
    create_rate: float = 0.0
    """Creates per second a user's bucket refills with; 0 is unlimited."""
    create_burst: int = 1
    """Creates a user may make at once before the rate applies."""
    refresh_rate: float = 0.0
    """Refreshes per second a user's bucket refills with; 0 is unlimited."""
    refresh_burst: int = 1
    """Refreshes a user may make at once before the rate applies."""


@dataclass(frozen=True)
class CreatedSession:
    """The outcome of storing a new session."""

    session: Session
    """The stored session."""
    evicted: SessionsEnded
    """The sessions ended to make room under the per-user limit (none, usually)."""


@dataclass(frozen=True)
class Rotation:
    """The outcome of a refresh-token rotation."""

    session: Session
    """The session, with its idle expiry slid."""
    sealed_successor: bytes | None
    """None when the prepared successor was installed; otherwise the successor sealed
    by an earlier concurrent rotation of the same token (grace window)."""
    activity: Activity | None = None
    """What the session held of its recent use, for the risk signals (None: unknown)."""


class SessionStore(Protocol):
    """Persistent session state; every method is one atomic step."""

    async def create(
        self,
        sid: SessionId,
        new: NewSession,
        refresh: RefreshToken,
        now_ms: int,
        policy: SessionPolicy,
        eviction_reason: RevocationReason,
        *,
        caller: str = "",
    ) -> CreatedSession:
        """Stores a new session, enforcing the per-user limit; evictions are published
        with ``eviction_reason``. ``caller``: the identity of the service that created it
        ('' when unknown), which binds the session to it (see ``callers`` below)."""
        ...

    async def touch(self, sid: SessionId, now_ms: int) -> Session:
        """Reads a live session and slides its idle expiry; SessionNotFound otherwise."""
        ...

    async def rotate_refresh(
        self,
        presented: RefreshToken,
        successor: RefreshToken,
        sealed_successor: bytes,
        now_ms: int,
        policy: SessionPolicy,
        reuse_reason: RevocationReason,
        *,
        callers: frozenset[str] | None = None,
        dpop_jkt: str = "",
    ) -> Rotation:
        """Replaces the presented refresh token with ``successor``; on reuse (a token of
        the session rotated before, outside the grace window) ends the session, publishing
        ``reuse_reason``, and raises RefreshTokenReused. ``callers``: the identities whose
        sessions the calling service may act on (None: any); a session created by another
        raises SessionClientMismatch and nothing changes. ``dpop_jkt``: the key of the
        request's DPoP proof ('' without one); a session bound to another key raises
        DpopProofInvalid and nothing changes."""
        ...

    async def reauthenticate(
        self,
        sid: SessionId,
        new_sid: SessionId,
        refresh: RefreshToken,
        authentication: Authentication,
        now_ms: int,
        reason: RevocationReason,
        *,
        dpop_jkt: str = "",
        callers: frozenset[str] | None = None,
    ) -> Session:
        """Moves a live session to ``new_sid`` with ``refresh`` as its only refresh token and
        ``authentication`` recorded, ending ``sid`` (a revocation event for ``reason``) in
        the same step; returns it as stored under ``new_sid``. Raises SessionNotFound,
        SessionClientMismatch (``callers`` as for :meth:`rotate_refresh`) or
        DpopProofInvalid (a session bound to another key than ``dpop_jkt``'s); then nothing
        changed."""
        ...

    async def record_activity(
        self, sid: SessionId, client: ClientInfo, now_ms: int, *, refreshing: bool = False
    ) -> Activity | None:
        """Records ``client`` as the live session's last client (its empty fields leave the
        stored ones) and, for a Refresh, starts a new refresh-count window when the last is
        over; returns the activity before, or None when the session is not live."""
        ...

    async def step_up(self, sid: SessionId, now_ms: int, reason: RevocationReason) -> bool:
        """Revokes the live session's current access tokens (a revocation event for its id,
        for ``reason``) and stops its refreshes until Reauthenticate; False when it is not
        live or was stepped up already."""
        ...

    async def update(self, sid: SessionId, patch: DataPatch, now_ms: int, policy: SessionPolicy) -> Session:
        """Applies a data patch atomically, as compare-and-set when it names a version."""
        ...

    async def revoke(
        self,
        sid: SessionId,
        now_ms: int,
        reason: RevocationReason,
        *,
        refresh: RefreshToken | None = None,
        user_id: str = "",
        callers: frozenset[str] | None = None,
    ) -> SessionsEnded:
        """Ends one session (only if it matches ``user_id`` when given, and when
        ``refresh`` is given only if that token was ever issued for it: current or rotated)
        and publishes its end with ``reason``, at least once; what it ended (nothing, or
        that session with its user and, for an impersonation session, its operator).
        ``callers`` as for :meth:`rotate_refresh`."""
        ...

    async def revoke_user(
        self, user_id: str, except_sid: SessionId | None, now_ms: int, reason: RevocationReason
    ) -> SessionsEnded:
        """Ends all of a user's sessions but ``except_sid`` and publishes their end with
        ``reason``, at least once; the live sessions it ended."""
        ...

    async def list_user(
        self, user_id: str, now_ms: int, page_size: int, after: str = ""
    ) -> tuple[Sequence[Session], str]:
        """A page of the user's live sessions in session-id order after the nonce ``after``,
        and the nonce to continue after ('' on the last page)."""
        ...

    async def peek(self, sid: SessionId, now_ms: int, refresh: RefreshToken | None = None) -> Session | None:
        """A live session without touching it (matching ``refresh`` when given), else None."""
        ...

    async def live_owner(self, sid: SessionId, now_ms: int) -> str | None:
        """The session's user while it is live, else None; without touching it (Introspect)."""
        ...

    async def live_owners(self, sids: Sequence[SessionId], now_ms: int) -> list[str | None]:
        """For each session in order, its user while it is live, else None; without
        touching them, in one round trip per store node (bulk Introspect)."""
        ...

    async def ping(self) -> None:
        """Returns when the store answers; raises StoreUnavailable otherwise."""
        ...


@dataclass(frozen=True)
class Revocation:
    """Sessions that ended together, as local token verifiers learn of it."""

    session_ids: tuple[str, ...]
    """The ended sessions."""
    revoked_at_ms: int
    """When they ended."""
    expires_at_ms: int
    """After this no access token of these sessions is valid, so the event stops mattering."""
    reason: RevocationReason | None = None
    """Why they ended (None for an event written before reasons existed)."""
    user_id: str = ""
    """The user whose sessions they were ('' when the event does not say: one written
    before events named users, or sessions not known to be one user's)."""


@dataclass(frozen=True)
class RevocationBatch:
    """One step of a revocation watch: events in order, and where to resume after them."""

    revocations: tuple[Revocation, ...]
    """Oldest first; empty in a heartbeat."""
    cursor: str
    """Resume point after these events ('' while nothing has been seen)."""
    cursor_reset: bool = False
    """The watch's cursor was unknown, so it restarted from the oldest retained event."""
    caught_up: bool = False
    """This batch ends the replay of retained events; later ones are live."""


class RevocationFeed(Protocol):
    """The stream of ended sessions that token verifiers subscribe to."""

    def valid_cursor(self, cursor: str) -> bool:
        """Whether ``cursor`` has the shape of a cursor this feed hands out."""
        ...

    def watch(self, cursor: str) -> AsyncIterator[RevocationBatch]:
        """Replays retained events after ``cursor`` (all with ''), then follows new ones.

        Ends when the feed closes; raises StoreUnavailable when the store fails."""
        ...


@dataclass(frozen=True)
class AccessClaims:
    """The verified claims of an access token."""

    sub: str
    """User."""
    sid: str
    """Session."""
    scope: str
    """Space-separated scopes."""
    client_id: str
    """Application."""
    iss: str
    """Issuer."""
    aud: str
    """Audience."""
    jti: str
    """Token id."""
    exp: int
    """Expiry, NumericDate."""
    iat: int
    """Issued at, NumericDate."""
    nbf: int
    """Not before, NumericDate."""
    cnf_jkt: str = ""
    """``cnf.jkt``: thumbprint of the DPoP key the token is bound to ('' for a bearer token)."""
    cnf_x5t: str = ""
    """``cnf.x5t#S256``: thumbprint of the client certificate the token is bound to (RFC 8705)."""
    act: str = ""
    """The ``act`` claim (RFC 8693 section 4.1) as compact JSON; '' when nobody acts."""
    may_act: str = ""
    """The one actor the ``may_act`` claim lets exchange the token; '' for any."""
    acr: str = ""
    """``acr``: how the user authenticated ('' when the token does not say)."""
    amr: tuple[str, ...] = ()
    """``amr``: the methods (RFC 8176)."""
    auth_time: int = 0
    """``auth_time``, NumericDate; 0 when the token does not say."""


@dataclass(frozen=True)
class ExchangedClaims:
    """What an exchanged access token says, decided by the domain, signed by the codec."""

    sub: str
    """The subject token's user."""
    sid: str
    """The subject token's session: the exchanged token dies with it."""
    audience: str
    """The one ``aud``."""
    scopes: tuple[str, ...]
    """The ``scope`` (a subset of the subject's)."""
    client_id: str
    """The subject token's ``client_id``."""
    act: Mapping[str, Any]
    """The ``act`` claim, the caller outermost."""
    exp: int
    """Expiry, NumericDate."""
    cnf_x5t: str = ""
    """The caller certificate's thumbprint to bind to; '' for a bearer token."""
    acr: str = ""
    """The subject token's ``acr`` ('' when it had none)."""
    amr: tuple[str, ...] = ()
    """The subject token's ``amr``."""
    auth_time: int = 0
    """The subject token's ``auth_time`` (NumericDate; 0 when it had none): the user's
    authentication is what it is, whoever acts on it, so step-up requirements
    (``max_age``, ``acr_values``) apply to exchanged tokens as to the session's own."""


class RefreshTokenCodec(Protocol):
    """Mints refresh tokens and recognises the ones this service minted."""

    def issue(self, sid: SessionId, generation: int) -> RefreshToken:
        """A fresh token of ``generation`` (1 for a new session) for ``sid``."""
        ...

    def verify(self, raw: str) -> RefreshToken | None:
        """The token if ``raw`` is one this service issued (by shape and MAC; a
        generation-less one by shape alone), else None; reads no store."""
        ...

    def completed(self, token: RefreshToken) -> RefreshToken:
        """The token with the MAC this service gives it (a successor opened from its seal
        comes without one)."""
        ...


class AccessTokenCodec(Protocol):
    """Signs and verifies access tokens."""

    def issue(self, session: Session, now_ms: int) -> tuple[str, int]:
        """A signed access token for ``session`` and its exp (NumericDate)."""
        ...

    def verify(self, token: str, audience: str = "", *, any_audience: bool = False) -> AccessClaims | None:
        """The claims of a valid token, or None for any invalid, expired or foreign one.
        The token must be for ``audience`` ('' means :attr:`audience`), or for any audience
        with ``any_audience``."""
        ...

    @property
    def audience(self) -> str:
        """The ``aud`` of the session's own tokens (SESSION_AUDIENCE)."""
        ...

    def issue_exchanged(self, grant: ExchangedClaims, now_ms: int) -> str:
        """A signed access token of exchanged claims (RFC 8693), valid until ``grant.exp``."""
        ...

    def jwks_json(self) -> str:
        """The public verification keys as an RFC 7517 JWK Set."""
        ...


class ProofReplay(Protocol):
    """The replay cache of DPoP proof ids, shared by every replica."""

    async def first_use(self, tag: str, jkt: str, jti: str, window_ms: int) -> bool:
        """Records the proof id (of the key ``jkt``) for ``window_ms`` in the slot of the
        user ``tag``; False when it was recorded before (a replay)."""
        ...


class DpopNonces(Protocol):
    """DPoP server nonces (RFC 9449 section 8)."""

    def current(self, now_ms: int) -> str:
        """The nonce to hand out now."""
        ...

    def valid(self, nonce: str, now_ms: int) -> bool:
        """Whether a proof may carry this nonce now."""
        ...
