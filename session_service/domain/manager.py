"""All session policy: what each operation checks, which token it issues, what it revokes."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence

from session_wire.dpop import HttpProof

from session_service.domain.access import AccessCheck, VerifiedTokens
from session_service.domain.activity import ActivityWatch
from session_service.domain.assurance import Authentication, validated_authentication
from session_service.domain.clock import Clock
from session_service.domain.delegation import (
    Actor,
    Exchanged,
    ExchangeLimits,
    ExchangeRequest,
    TokenExchange,
    check_audience,
)
from session_service.domain.dpop import DpopCheck
from session_service.domain.ids import (
    MAX_GENERATION,
    RefreshToken,
    SessionId,
    new_session_id,
    open_successor,
    parse_session_id,
    seal_successor,
    successor_session_id,
)
from session_service.domain.model import (
    CALLER_REASONS,
    INACTIVE,
    ClientInfo,
    DataPatch,
    Introspection,
    IssuedTokens,
    NewSession,
    RevocationReason,
    Session,
    SessionsEnded,
    default_revocation_reason,
)
from session_service.domain.paging import decode_page_token, encode_page_token, page_size
from session_service.domain.ports import (
    AccessTokenCodec,
    RefreshTokenCodec,
    RevocationBatch,
    RevocationFeed,
    SessionPolicy,
    SessionStore,
)
from session_service.domain.validation import (
    InputLimits,
    Violations,
    check_client_info,
    check_required,
    check_user_id,
    validate_new_session,
    validate_patch,
)
from session_service.errors import (
    DpopProofInvalid,
    FieldViolation,
    InvalidArgument,
    RefreshTokenInvalid,
    RefreshTokenReused,
)

MAX_INTROSPECT_BATCH = 500
"""Tokens one IntrospectBatch may carry."""


class SessionManager:
    """Implements every SessionService operation on top of a store and a token codec."""

    def __init__(
        self,
        store: SessionStore,
        tokens: AccessTokenCodec,
        clock: Clock,
        policy: SessionPolicy,
        limits: InputLimits,
        *,
        refresh_tokens: RefreshTokenCodec,
        revocations: RevocationFeed,
        on_ended: Callable[[SessionsEnded], None] | None = None,
        verified_tokens: int = 0,
        dpop: DpopCheck | None = None,
        exchange_limits: ExchangeLimits | None = None,
        impersonation_max_ttl_s: int = 1800,
        activity: ActivityWatch | None = None,
    ) -> None:
        """``on_ended`` hears every end of sessions (the audit trail); ``verified_tokens``
        bounds the cache of verified access tokens Introspect keeps (0: none).

        Operations on a refresh token take ``callers``: the identities whose sessions the
        calling service may act on (its own and those sharing sessions with it), or None
        when sessions are not bound to callers."""
        self._on_ended = on_ended
        self._store = store
        self._tokens = tokens
        self._refresh_tokens = refresh_tokens
        self._clock = clock
        self._policy = policy
        self._limits = limits
        self._revocations = revocations
        self._dpop = dpop
        self.activity = activity
        """Who uses sessions and their risk signals (None: neither recorded nor assessed)."""
        self._exchange = TokenExchange(tokens, store, clock, exchange_limits or ExchangeLimits(), limits)
        self._impersonation_max_ms = impersonation_max_ttl_s * 1000
        # One cache of verified access tokens for Introspect and IntrospectBatch. Only the
        # signature and claims checks are remembered, never a session's liveness: every
        # call reads the store, so a revoked session is inactive in the next one.
        self.access = AccessCheck(
            tokens, store, VerifiedTokens(verified_tokens) if verified_tokens > 0 else None
        )
        """The access-token check (and its one cache) Introspect, IntrospectBatch and the
        gateway checks share."""

    async def create(
        self, request: NewSession, caller: str | None = None, dpop: HttpProof | None = None
    ) -> IssuedTokens:
        """Starts a new session with an id the caller cannot choose (no fixation), bound to
        the identity of the ``caller`` that created it (None: not bound) and, with a valid
        ``dpop`` proof, to the proof's key (RFC 9449): its access tokens carry ``cnf.jkt``
        and every Refresh needs a proof by that key."""
        new = self._authenticated(validate_new_session(request, self._limits))
        sid = new_session_id(new.user_id)
        if dpop is not None:
            new = dataclasses.replace(new, cnf_jkt=(await self._dpop_check().verify(dpop, sid.tag)).jkt)
        refresh = self._refresh_tokens.issue(sid, 1)
        now = self._clock.now_ms()
        policy = self._policy
        if new.impersonator:
            # An impersonation session lives minutes, not weeks, and is never refreshed (rotate.lua).
            cap = self._impersonation_max_ms
            policy = dataclasses.replace(
                policy, absolute_ms=min(policy.absolute_ms, cap), idle_ms=min(policy.idle_ms, cap)
            )
        created = await self._store.create(
            sid,
            new,
            refresh,
            now,
            policy,
            RevocationReason.SESSION_LIMIT_EVICTION,
            caller=caller or "",
        )
        self._ended(created.evicted)
        return self._issue(created.session, refresh, now)

    async def get(self, session_id: str) -> Session:
        """Reads a live session and slides its idle expiry."""
        sid = self._session_id("session_id", session_id)
        return await self._store.touch(sid, self._clock.now_ms())

    async def refresh(
        self,
        refresh_token: str,
        callers: frozenset[str] | None = None,
        dpop: HttpProof | None = None,
        client: ClientInfo | None = None,
    ) -> IssuedTokens:
        """Rotates a refresh token into the next generation; a duplicate within the grace
        window gets the same successor; a token of an earlier generation ends the session.

        A session bound to a DPoP key rotates only with a valid ``dpop`` proof by that key
        (compared atomically with the rotation); a proof sent for an unbound session is
        checked like any other but binds nothing: a bearer session never changes hands to
        whoever holds its refresh token and a key.

        ``client``: who refreshes, as the login service sees it; it becomes the session's
        last client, and the risk signals compare it with the one before (a signal's
        step_up answers REAUTHENTICATION_REQUIRED, its revoke REFRESH_TOKEN_INVALID)."""
        v = Violations()
        check_required(v, "refresh_token", refresh_token, self._limits.max_token)
        client = client or ClientInfo()
        check_client_info(v, "client", client, self._limits)
        v.raise_if_any()
        presented = self._refresh_tokens.verify(refresh_token)
        if presented is None or presented.generation >= MAX_GENERATION:
            raise RefreshTokenInvalid()
        successor = self._refresh_tokens.issue(presented.session_id, presented.generation + 1)
        dpop_jkt = (await self._dpop_check().verify(dpop, presented.session_id.tag)).jkt if dpop else ""
        now = self._clock.now_ms()
        try:
            rotation = await self._store.rotate_refresh(
                presented,
                successor,
                seal_successor(presented, successor),
                now,
                self._policy,
                RevocationReason.REFRESH_TOKEN_REUSE,
                callers=callers,
                dpop_jkt=dpop_jkt,
            )
        except RefreshTokenReused as e:
            self._ended(
                SessionsEnded(RevocationReason.REFRESH_TOKEN_REUSE, (str(presented.session_id),), e.user_id)
            )
            raise
        if rotation.sealed_successor is not None:
            opened = open_successor(presented, rotation.sealed_successor)
            if opened is None:
                raise RefreshTokenInvalid()
            successor = self._refresh_tokens.completed(opened)
        session = rotation.session
        if self.activity is not None:
            session = await self.activity.refreshed(session, rotation.activity, client, now)
        return self._issue(session, successor, now)

    async def reauthenticate(
        self,
        session_id: str,
        authentication: Authentication,
        callers: frozenset[str] | None = None,
        dpop: HttpProof | None = None,
    ) -> IssuedTokens:
        """Records a new authentication of the session's user and moves the session to a
        new id with a new refresh token (no fixation, ASVS 7.2.4): the old id answers
        SESSION_NOT_FOUND and its access tokens end (REVOCATION_REASON_SESSION_ROTATED);
        data, device, limits, expiries and bindings carry over. A DPoP-bound session
        moves only with a ``dpop`` proof by its key; ``callers`` as for :meth:`refresh`."""
        sid = self._session_id("session_id", session_id)
        v = Violations()
        authentication = validated_authentication(v, authentication, self._clock.now_ms())
        v.raise_if_any()
        dpop_jkt = (await self._dpop_check().verify(dpop, sid.tag)).jkt if dpop else ""
        new_sid = successor_session_id(sid)
        refresh = self._refresh_tokens.issue(new_sid, 1)
        now = self._clock.now_ms()
        session = await self._store.reauthenticate(
            sid,
            new_sid,
            refresh,
            authentication,
            now,
            RevocationReason.SESSION_ROTATED,
            dpop_jkt=dpop_jkt,
            callers=callers,
        )
        self._ended(SessionsEnded(RevocationReason.SESSION_ROTATED, (str(sid),), session.user_id))
        return self._issue(session, refresh, now)

    def _authenticated(self, new: NewSession) -> NewSession:
        """``new`` with its authentication checked. An ``auth_time`` not given stays 0: the
        user authenticated when the session was created, which every reader falls back to
        (and a session that does not store it is smaller)."""
        v = Violations()
        given = Authentication(new.acr, new.amr, new.auth_time_ms)
        checked = validated_authentication(v, given, self._clock.now_ms())
        v.raise_if_any()
        auth_time_ms = checked.auth_time_ms if given.auth_time_ms else 0
        if (checked.acr, checked.amr, auth_time_ms) == (given.acr, given.amr, given.auth_time_ms):
            return new
        return dataclasses.replace(new, acr=checked.acr, amr=checked.amr, auth_time_ms=auth_time_ms)

    async def update(self, session_id: str, patch: DataPatch) -> Session:
        """Patches the session's data atomically."""
        validate_patch("session_id", session_id, patch, self._limits)
        sid = self._session_id("session_id", session_id)
        return await self._store.update(sid, patch, self._clock.now_ms(), self._policy)

    async def list_sessions(
        self, user_id: str, requested_page_size: int = 0, page_token: str = ""
    ) -> tuple[Sequence[Session], str]:
        """A page of the user's live sessions in session-id order, and the next page's token."""
        v = Violations()
        check_user_id(v, "user_id", user_id, self._limits)
        v.raise_if_any()
        size = page_size(requested_page_size)
        after = decode_page_token(user_id, page_token)
        sessions, last = await self._store.list_user(user_id, self._clock.now_ms(), size, after)
        return sessions, encode_page_token(user_id, last) if last else ""

    async def revoke_session(self, session_id: str, reason: RevocationReason | None = None) -> SessionsEnded:
        """Ends one session; nothing when it had already ended (or never existed)."""
        sid = self._session_id("session_id", session_id)
        reason = self._caller_reason(reason, default_revocation_reason("session_id"))
        return self._ended(await self._store.revoke(sid, self._clock.now_ms(), reason))

    async def revoke_refresh_token(
        self,
        refresh_token: str,
        reason: RevocationReason | None = None,
        callers: frozenset[str] | None = None,
    ) -> SessionsEnded:
        """Ends the session of any refresh token ever issued for it, current or rotated
        (RFC 7009: the grant is revoked); nothing for an invalid token."""
        self._require_token("refresh_token", refresh_token)
        reason = self._caller_reason(reason, default_revocation_reason("refresh_token"))
        presented = self._refresh_tokens.verify(refresh_token)
        if presented is None:
            return SessionsEnded(reason, ())
        return self._ended(
            await self._store.revoke(
                presented.session_id, self._clock.now_ms(), reason, refresh=presented, callers=callers
            )
        )

    async def revoke_access_token(
        self, access_token: str, reason: RevocationReason | None = None
    ) -> SessionsEnded:
        """Ends the session of a valid access token (RFC 7009); nothing for an invalid token."""
        self._require_token("access_token", access_token)
        reason = self._caller_reason(reason, default_revocation_reason("access_token"))
        claims = self._tokens.verify(access_token)
        sid = parse_session_id(claims.sid) if claims else None
        if claims is None or sid is None:
            return SessionsEnded(reason, ())
        return self._ended(await self._store.revoke(sid, self._clock.now_ms(), reason, user_id=claims.sub))

    async def revoke_user(
        self, user_id: str, except_session_id: str = "", reason: RevocationReason | None = None
    ) -> SessionsEnded:
        """Ends every session of the user, except ``except_session_id`` when given."""
        v = Violations()
        check_user_id(v, "user_id", user_id, self._limits)
        v.raise_if_any()
        keep = self._session_id("except_session_id", except_session_id) if except_session_id else None
        reason = self._caller_reason(reason, default_revocation_reason("user_id", keep is not None))
        return self._ended(await self._store.revoke_user(user_id, keep, self._clock.now_ms(), reason))

    def _ended(self, ended: SessionsEnded) -> SessionsEnded:
        """Every end of sessions passes here once (Revoke of any kind, refresh-token reuse,
        eviction under the per-user limit), after the store has made it durable together
        with its revocation event; ``on_ended`` hears it. Returns it, with the reason the
        end was given (a caller's, or the default for what it named)."""
        if self._on_ended is not None and ended.session_ids:
            self._on_ended(ended)
        return ended

    @staticmethod
    def _caller_reason(given: RevocationReason | None, default: RevocationReason) -> RevocationReason:
        if given is None:
            return default
        if given not in CALLER_REASONS:
            raise InvalidArgument(
                [FieldViolation("reason", "only the service itself ends sessions for this reason")]
            )
        return given

    async def introspect(self, token: str, token_type_hint: str = "", audience: str = "") -> Introspection:
        """RFC 7662: reports an inactive token as such, never as an error. An access token
        must be for ``audience`` ('' means SESSION_AUDIENCE); a refresh token is for the
        service's own audience only."""
        v = Violations()
        check_required(v, "token", token, self._limits.max_token)
        check_audience(v, "audience", audience)
        v.raise_if_any()
        now = self._clock.now_ms()
        if audience and audience != self._tokens.audience:
            return await self.access.authoritative(token, now, audience) or INACTIVE
        # RFC 7662 section 2.1: the hint orders the search, it does not restrict it.
        order = (self._introspect_access, self._introspect_refresh)
        if token_type_hint == "refresh_token":
            order = order[::-1]
        for introspect in order:
            result = await introspect(token, now)
            if result is not None:
                return result
        return INACTIVE

    async def introspect_many(
        self, requests: Sequence[tuple[str, str]], audiences: Sequence[str] = ()
    ) -> list[Introspection]:
        """:meth:`introspect` for each (token, hint), in order, with one store read per node;
        ``audiences``: each request's audience, in the same order ('' or none: SESSION_AUDIENCE).

        Access tokens verified before cost a digest and a dictionary look-up; all their
        sessions are then read in one round trip per store node. Refresh tokens take
        Introspect's own path, concurrently."""
        if len(requests) > MAX_INTROSPECT_BATCH:
            raise InvalidArgument([FieldViolation("requests", f"at most {MAX_INTROSPECT_BATCH} per call")])
        v = Violations()
        for i, (token, _) in enumerate(requests):
            check_required(v, f"requests[{i}].token", token, self._limits.max_token)
        for i, audience in enumerate(audiences):
            check_audience(v, f"requests[{i}].audience", audience)
        v.raise_if_any()
        own = self._tokens.audience
        now = self._clock.now_ms()
        results: list[Introspection] = [INACTIVE] * len(requests)
        access: list[tuple[int, Introspection, SessionId]] = []
        refresh: list[tuple[int, str]] = []
        for i, (token, _) in enumerate(requests):
            # An access token (a JWS) and a refresh token never share a shape, so trying
            # the cheap local checks first gives the answer the hint's order would.
            audience = audiences[i] if i < len(audiences) else ""
            identity = self.access.verified(token, now, audience)
            sid = parse_session_id(identity.sid) if identity is not None else None
            if identity is not None and sid is not None:
                access.append((i, identity, sid))
            elif audience in ("", own) and self._refresh_tokens.verify(token) is not None:
                refresh.append((i, token))
        owners = await self._store.live_owners([sid for _, _, sid in access], now)
        for (i, identity, _), owner in zip(access, owners, strict=True):
            if owner == identity.sub:
                results[i] = identity
        answers = await asyncio.gather(*(self._introspect_refresh(token, now) for _, token in refresh))
        for (i, _), answer in zip(refresh, answers, strict=True):
            results[i] = answer or INACTIVE
        return results

    async def exchange(self, request: ExchangeRequest, actor: Actor) -> Exchanged:
        """RFC 8693 token exchange: a narrower token of the subject token's session for
        ``actor`` (:mod:`session_service.domain.delegation` holds the rules)."""
        return await self._exchange.exchange(request, actor)

    def jwks_json(self) -> str:
        """The public keys that verify access tokens."""
        return self._tokens.jwks_json()

    def watch_revocations(self, cursor: str) -> AsyncIterator[RevocationBatch]:
        """Ended sessions after ``cursor`` (all retained ones without it), then live ones."""
        if cursor and (len(cursor) > self._limits.max_token or not self._revocations.valid_cursor(cursor)):
            raise InvalidArgument([FieldViolation("cursor", "is not a cursor this service handed out")])
        return self._revocations.watch(cursor)

    async def _introspect_access(self, token: str, now: int) -> Introspection | None:
        # The same check as the gateways' (Envoy Check, forward-auth), read authoritatively.
        return await self.access.authoritative(token, now)

    async def _introspect_refresh(self, token: str, now: int) -> Introspection | None:
        presented = self._refresh_tokens.verify(token)
        if presented is None:
            return None
        session = await self._store.peek(presented.session_id, now, refresh=presented)
        if session is None:
            return INACTIVE
        return Introspection(
            active=True,
            sub=session.user_id,
            sid=session.session_id,
            scope=" ".join(session.scopes),
            client_id=session.client_id,
            token_type="refresh_token",
            exp=session.idle_expires_at_ms // 1000,
        )

    def _issue(self, session: Session, refresh: RefreshToken, now_ms: int) -> IssuedTokens:
        access, exp = self._tokens.issue(session, now_ms)
        return IssuedTokens(
            session=session,
            access_token=access,
            access_token_expires_at=exp,
            refresh_token=str(refresh),
            refresh_token_expires_at_ms=session.idle_expires_at_ms,
        )

    def _dpop_check(self) -> DpopCheck:
        if self._dpop is None:
            raise DpopProofInvalid("this service does not accept DPoP proofs")
        return self._dpop

    def _session_id(self, field: str, raw: str) -> SessionId:
        v = Violations()
        check_required(v, field, raw, self._limits.max_token)
        sid = parse_session_id(raw) if raw else None
        if raw and sid is None:
            v.add(field, "is not a session id")
        v.raise_if_any()
        assert sid is not None
        return sid

    def _require_token(self, field: str, token: str) -> None:
        v = Violations()
        check_required(v, field, token, self._limits.max_token)
        v.raise_if_any()
