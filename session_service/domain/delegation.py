"""Token exchange (RFC 8693): the rules that turn a user's access token into a narrower one.

:class:`TokenExchange` is the whole policy of the ``Exchange`` RPC, in the order it is
applied:

1. the caller must have an identity (it becomes the new token's ``act``):
   CALLER_UNAUTHENTICATED otherwise;
2. the caller's :class:`ExchangeGrant` (its policy entry's ``exchange``) must name the
   audience: EXCHANGE_NOT_ALLOWED otherwise, before the subject token is even looked at;
3. the subject token is checked like Introspect checks it (signature, ``typ``, ``iss``,
   times, a live session of its ``sub``), for any single audience of this issuer, and
   must be usable by this caller: a DPoP-bound token (``cnf.jkt``) never is (an exchange
   carries no proof of its key, so only the key's holder could present it and the caller
   is not that holder), a certificate-bound one (``cnf.x5t#S256``) only when the caller
   connected with that certificate. Otherwise SUBJECT_TOKEN_INVALID;
4. ``may_act`` in the subject token names the only caller that may exchange it;
5. the scopes (empty: all of the subject's) must be a subset of the subject's and of
   the grant's; the act chain, the caller outermost, at most ``max_depth`` long;
6. the lifetime is the least of the requested one (0: the maximum), ``max_ttl_s`` and
   what is left of the subject token's.

The new token keeps ``sub``, ``sid`` and ``client_id``, so revoking the session ends it at
every door at once; it carries no extra claims of the session.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from session_wire.delegation import act_depth, certificate_matches, nest_act

from session_service.domain.clock import Clock
from session_service.domain.ids import parse_session_id
from session_service.domain.ports import AccessTokenCodec, ExchangedClaims, SessionStore
from session_service.domain.validation import InputLimits, Violations, check_required, check_scopes
from session_service.errors import (
    CallerUnauthenticated,
    ExchangeNotAllowed,
    FieldViolation,
    InvalidArgument,
    SubjectTokenInvalid,
)

__all__ = ["ANY", "ExchangeGrant", "ExchangeLimits", "ExchangeRequest", "Exchanged", "TokenExchange"]

ANY = "*"
"""In a grant's audiences or scopes: any."""
MAX_AUDIENCE = 256
"""Longest audience, in characters."""
# An audience is a StringOrURI (RFC 7519 section 2) of visible ASCII: no spaces, so it
# fits a header, a query parameter and a metric label unchanged.
_AUDIENCE = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True)
class ExchangeGrant:
    """Which audiences and scopes a caller may obtain by exchange ("*": any)."""

    audiences: frozenset[str] = frozenset()
    """Audiences it may obtain; empty: none."""
    scopes: frozenset[str] = frozenset()
    """Scopes the exchanged tokens may carry; empty: none."""

    def allows_audience(self, audience: str) -> bool:
        """Whether the grant names ``audience``."""
        return ANY in self.audiences or audience in self.audiences

    def allows_scopes(self, scopes: tuple[str, ...]) -> bool:
        """Whether every one of ``scopes`` is granted."""
        return ANY in self.scopes or all(scope in self.scopes for scope in scopes)


NO_EXCHANGE = ExchangeGrant()
"""The grant of a caller whose policy entry says nothing of exchange."""


@dataclass(frozen=True)
class ExchangeLimits:
    """Bounds on every exchanged token."""

    max_ttl_s: int = 300
    """Longest lifetime (SESSION_EXCHANGE_MAX_TTL)."""
    max_depth: int = 4
    """Longest act chain (SESSION_EXCHANGE_MAX_DEPTH)."""


@dataclass(frozen=True)
class ExchangeRequest:
    """What an Exchange asks for."""

    subject_token: str
    """One of the service's access tokens."""
    audience: str
    """The one audience of the new token."""
    scopes: tuple[str, ...] = ()
    """A subset of the subject's scopes; empty: all of them."""
    ttl_seconds: int = 0
    """Requested lifetime; 0: the longest allowed."""
    bind_to_caller_certificate: bool = False
    """Bind the token to the caller's client certificate (RFC 8705)."""


@dataclass(frozen=True)
class Actor:
    """The caller of an Exchange, as the transport knows it."""

    identity: str | None
    """Its identity (certificate SAN or caller-token ``sub``); None without credentials."""
    certificate_x5t: str | None
    """The ``x5t#S256`` of its verified client certificate; None without mTLS."""
    grant: ExchangeGrant
    """What the policy lets it obtain."""


@dataclass(frozen=True)
class Exchanged:
    """An exchanged token and what it grants."""

    access_token: str
    """The signed JWT."""
    expires_at: int
    """Its ``exp``, NumericDate."""
    audience: str
    """Its one ``aud``."""
    scopes: tuple[str, ...]
    """Its scopes."""
    sub: str
    """The user (for the audit line)."""
    sid: str
    """The session (for the audit line)."""


class TokenExchange:
    """Decides and mints exchanged tokens (see the module docstring for the rules)."""

    def __init__(
        self,
        tokens: AccessTokenCodec,
        store: SessionStore,
        clock: Clock,
        limits: ExchangeLimits,
        input_limits: InputLimits,
    ) -> None:
        self._tokens = tokens
        self._store = store
        self._clock = clock
        self._limits = limits
        self._input = input_limits

    async def exchange(self, request: ExchangeRequest, actor: Actor) -> Exchanged:
        """The narrower token; raises InvalidArgument, CallerUnauthenticated,
        ExchangeNotAllowed or SubjectTokenInvalid."""
        scopes = self._validate(request)
        if actor.identity is None:
            raise CallerUnauthenticated("Exchange needs the caller's identity: it becomes the token's act")
        if not actor.grant.allows_audience(request.audience):
            raise ExchangeNotAllowed("this caller may not obtain tokens for that audience")
        claims = self._tokens.verify(request.subject_token, any_audience=True)
        sid = parse_session_id(claims.sid) if claims is not None else None
        if claims is None or sid is None:
            raise SubjectTokenInvalid()
        if claims.cnf_jkt:
            raise SubjectTokenInvalid()  # only its key's holder may present it: not a caller
        if claims.cnf_x5t and not certificate_matches(claims.cnf_x5t, actor.certificate_x5t):
            raise SubjectTokenInvalid()
        now_ms = self._clock.now_ms()
        if await self._store.live_owner(sid, now_ms) != claims.sub:
            raise SubjectTokenInvalid()
        if claims.may_act and claims.may_act != actor.identity:
            raise ExchangeNotAllowed("the subject token's may_act names another actor")
        held = claims.scope.split()
        scopes = scopes or tuple(held)
        if not set(scopes) <= set(held):
            raise ExchangeNotAllowed("the scopes exceed the subject token's")
        if not actor.grant.allows_scopes(scopes):
            raise ExchangeNotAllowed("this caller may not obtain those scopes")
        previous: dict[str, Any] | None = json.loads(claims.act) if claims.act else None
        depth = act_depth(previous) + 1
        if depth <= 0 or depth > self._limits.max_depth:
            raise ExchangeNotAllowed(f"the act chain would be longer than {self._limits.max_depth}")
        x5t = ""
        if request.bind_to_caller_certificate:
            if actor.certificate_x5t is None:
                no_cert = "the caller presented no client certificate"
                raise InvalidArgument([FieldViolation("bind_to_caller_certificate", no_cert)])
            x5t = actor.certificate_x5t
        now = now_ms // 1000
        ttl = min(request.ttl_seconds or self._limits.max_ttl_s, self._limits.max_ttl_s, claims.exp - now)
        if ttl <= 0:
            raise SubjectTokenInvalid()  # within the clock leeway of its expiry: nothing left to give
        granted = ExchangedClaims(
            sub=claims.sub,
            sid=claims.sid,
            audience=request.audience,
            scopes=scopes,
            client_id=claims.client_id,
            act=nest_act(actor.identity, previous),
            exp=now + ttl,
            cnf_x5t=x5t,
            acr=claims.acr,
            amr=claims.amr,
            auth_time=claims.auth_time,
        )
        token = self._tokens.issue_exchanged(granted, now_ms)
        return Exchanged(token, granted.exp, request.audience, scopes, claims.sub, claims.sid)

    def _validate(self, request: ExchangeRequest) -> tuple[str, ...]:
        v = Violations()
        check_required(v, "subject_token", request.subject_token, self._input.max_token)
        check_audience(v, "audience", request.audience, required=True)
        scopes = tuple(dict.fromkeys(request.scopes))
        if len(scopes) > self._input.max_scopes:
            v.add("scopes", f"must have at most {self._input.max_scopes} entries")
        check_scopes(v, "scopes", scopes, self._input)
        if request.ttl_seconds < 0:
            v.add("ttl_seconds", "must not be negative (0 asks for the longest allowed)")
        v.raise_if_any()
        return scopes


def check_audience(v: Violations, field: str, audience: str, *, required: bool = False) -> None:
    """Adds a violation unless ``audience`` is 1 to 256 visible ASCII characters (or empty
    when not ``required``)."""
    if not audience:
        if required:
            v.add(field, "is required")
        return
    if len(audience) > MAX_AUDIENCE or not _AUDIENCE.fullmatch(audience) or audience == ANY:
        v.add(field, f"must be 1 to {MAX_AUDIENCE} visible ASCII characters without spaces, not '*'")
