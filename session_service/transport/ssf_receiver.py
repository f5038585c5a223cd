"""Shared Signals receiver: ``POST /ssf/events`` on the signals door (RFC 8935 push).

A transmitter in ``SESSION_SSF_TRANSMITTERS_FILE`` posts a Security Event Token (RFC 8417,
``application/secevent+jwt``) with its bearer token. The events that end sessions, with
REVOCATION_REASON_SHARED_SIGNAL:

- CAEP ``session-revoked``: the sessions of ours created from the named session (matched
  against ``idp.session_id``), or of the named subject;
- CAEP ``credential-change``, RISC ``account-disabled`` and ``account-purged``: all of the
  subject's sessions (matched against ``idp.subject``).

Subjects (``sub_id`` at the top level, as SSF 1.0 has it, or ``subject`` in the event) may
be ``opaque`` (a session id for session-revoked, else a subject), ``iss_sub`` (its ``iss``
must be the transmitter's identity provider) or ``complex`` with ``session`` and/or
``user``. Other events (the SSF verification event among them) are accepted and change
nothing. Answers 202; 400 with ``{"err", "description"}`` (RFC 8935 section 2.3:
``invalid_request``, ``invalid_key``, ``invalid_issuer``, ``invalid_audience``,
``authentication_failed``); 503 when Redis or the transmitter's JWKS URL cannot be reached.
A SET whose ``jti`` was accepted before is accepted again (a transmitter's retry) and
changes nothing.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from session_service.domain.model import IdpSession, RevocationReason
from session_service.domain.upstream import UpstreamSessions
from session_service.errors import SessionError
from session_service.security.upstream import KeysUnavailable, SignalRejected, SignalVerifier, UpstreamIssuer
from session_service.transport.signals_http import SignalRoute

log = logging.getLogger(__name__)

PATH = "/ssf/events"
"""Where transmitters push SETs."""
TOKEN_TYPE = "secevent+jwt"
"""The ``typ`` of a SET (RFC 8417 section 2.3)."""
CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
RISC = "https://schemas.openid.net/secevent/risc/event-type/"
SESSION_REVOKED = CAEP + "session-revoked"
CREDENTIAL_CHANGE = CAEP + "credential-change"
ACCOUNT_DISABLED = RISC + "account-disabled"
ACCOUNT_PURGED = RISC + "account-purged"
SUBJECT_EVENTS = frozenset({CREDENTIAL_CHANGE, ACCOUNT_DISABLED, ACCOUNT_PURGED})
"""Events that end all of a subject's sessions."""
_ERRORS = {
    "request": "invalid_request",
    "issuer": "invalid_issuer",
    "audience": "invalid_audience",
    "key": "invalid_key",
}


def _answer(status: int, err: str = "", description: str = "") -> web.Response:
    if not err:
        return web.Response(status=status)
    return web.json_response({"err": err, "description": description}, status=status)


def _subject(value: Any, issuer: UpstreamIssuer, *, session_event: bool) -> IdpSession:
    """The IdP session or subject a subject identifier names (RFC 9493 formats)."""
    if not isinstance(value, Mapping):
        raise SignalRejected("invalid_request", "the event names no subject (sub_id)")
    fmt = value.get("format")
    idp = issuer.idp_issuer
    if fmt == "opaque" and isinstance(value.get("id"), str) and value["id"]:
        if session_event:
            return IdpSession(idp, "", value["id"])
        return IdpSession(idp, value["id"], "")
    if fmt == "iss_sub" and isinstance(value.get("sub"), str) and value["sub"]:
        if value.get("iss") != idp:
            raise SignalRejected(
                "invalid_request", "the subject's iss is not this transmitter's identity provider"
            )
        return IdpSession(idp, value["sub"], "")
    if fmt == "complex":
        session = value.get("session")
        if session_event and session is not None:
            found = _subject(session, issuer, session_event=True)
            if found.session_id:
                return found
        user = value.get("user")
        if user is not None:
            return _subject(user, issuer, session_event=False)
    raise SignalRejected(
        "invalid_request", "the subject's format is not supported (opaque, iss_sub, complex)"
    )


def _bearer(request: web.Request) -> bytes:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    return presented.strip().encode() if scheme.lower() == "bearer" else b""


class SsfReceiver:
    """The receiver; :meth:`routes` are served on the signals door."""

    def __init__(self, verifier: SignalVerifier, sessions: UpstreamSessions) -> None:
        self._verifier = verifier
        self._sessions = sessions
        self._tokens = {
            name: i.bearer_token.encode() for name, i in verifier.issuers.items() if i.bearer_token
        }

    def routes(self) -> list[SignalRoute]:
        """Its route on the signals door."""
        return [SignalRoute("POST", PATH, self._events)]

    def _authenticated(self, request: web.Request) -> bool:
        # Any configured transmitter's token is checked, each in constant time: which one
        # matched is compared with the SET's issuer once that is verified.
        presented = _bearer(request)
        return any([hmac.compare_digest(presented, t) for t in self._tokens.values()])

    async def _events(self, request: web.Request) -> web.Response:
        if not self._authenticated(request):
            return _answer(400, "authentication_failed", "missing or wrong bearer token")
        try:
            body = (await request.read()).decode("ascii").strip()
        except (UnicodeDecodeError, web.HTTPException):
            return _answer(400, "invalid_request", "expected a SET (application/secevent+jwt)")
        try:
            verified = await self._verifier.verify(body, typ=TOKEN_TYPE, error_for=_ERRORS)
            issuer = verified.issuer
            if not hmac.compare_digest(_bearer(request), issuer.bearer_token.encode()):
                raise SignalRejected("authentication_failed", "the bearer token is not this transmitter's")
            claims = verified.claims
            jti = claims.get("jti")
            if not isinstance(jti, str) or not jti:
                raise SignalRejected("invalid_request", "the jti claim is missing")
            events = claims.get("events")
            if not isinstance(events, Mapping) or not events:
                raise SignalRejected("invalid_request", "the events claim is missing")
            targets = self._targets(claims, events, issuer)
            if await self._sessions.seen_before(issuer.issuer, jti):
                return _answer(202)
            ended = 0
            for target, event in targets:
                ended += len(
                    (await self._sessions.end(target, RevocationReason.SHARED_SIGNAL, event)).session_ids
                )
            await self._sessions.remember(issuer.issuer, jti, self._verifier.remember_for_s(claims))
        except SignalRejected as e:
            log.info("security event refused: %s", e.description)
            return _answer(400, e.code, e.description)
        except KeysUnavailable as e:
            log.warning("security event: the transmitter's keys are unavailable: %s", e)
            return web.Response(status=503)
        except SessionError as e:
            log.warning("security event: the store is unavailable: %s", e)
            return web.Response(status=503)
        if targets:
            log.info("security event from %s ended %d session(s)", issuer.issuer, ended)
        return _answer(202)

    def _targets(
        self, claims: Mapping[str, Any], events: Mapping[str, Any], issuer: UpstreamIssuer
    ) -> list[tuple[IdpSession, str]]:
        targets = []
        for event, payload in events.items():
            if event != SESSION_REVOKED and event not in SUBJECT_EVENTS:
                continue
            if not isinstance(payload, Mapping):
                raise SignalRejected("invalid_request", "an event's payload must be a JSON object")
            subject = claims.get("sub_id", payload.get("subject"))
            targets.append((_subject(subject, issuer, session_event=event == SESSION_REVOKED), event))
        return targets
