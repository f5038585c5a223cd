"""OIDC Back-Channel Logout 1.0 receiver: ``POST /oidc/backchannel-logout`` on the signals door.

An identity provider in ``SESSION_OIDC_LOGOUT_ISSUERS_FILE`` posts a form with a
``logout_token``; once it passes the checks of section 2.6, every session of ours created
from the provider's session (``sid``), or of its subject (``sub``) when it names no
session, ends with REVOCATION_REASON_IDP_LOGOUT. Answers 200; 400 with a JSON ``error`` and
``error_description`` (section 2.8); 503 when Redis or the provider's JWKS URL cannot be
reached, so that the provider retries. Every answer carries ``Cache-Control: no-store``.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from session_service.domain.model import IdpSession, RevocationReason
from session_service.domain.upstream import UpstreamSessions
from session_service.errors import SessionError
from session_service.security.upstream import KeysUnavailable, SignalRejected, SignalVerifier
from session_service.transport.signals_http import SignalRoute

log = logging.getLogger(__name__)

PATH = "/oidc/backchannel-logout"
"""Where identity providers post logout tokens."""
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
"""The member of ``events`` that makes a JWT a logout token."""
TOKEN_TYPE = "logout+jwt"
"""The ``typ`` a logout token may declare (section 2.4)."""
_ERRORS = dict.fromkeys(("request", "issuer", "audience", "key"), "invalid_request")
"""Section 2.8 knows one error code for every refusal."""
_NO_STORE = {"Cache-Control": "no-store"}


def _answer(status: int, error: str = "", description: str = "") -> web.Response:
    if not error:
        return web.Response(status=status, headers=_NO_STORE)
    return web.json_response(
        {"error": error, "error_description": description}, status=status, headers=_NO_STORE
    )


def logout_target(claims: dict[str, Any] | Any) -> IdpSession:
    """The IdP session or subject a verified logout token names; SignalRejected when it
    breaks section 2.4's rules (events, sid/sub, nonce, jti)."""
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
        raise SignalRejected("invalid_request", f"events must hold {LOGOUT_EVENT} with a JSON object")
    if "nonce" in claims:
        raise SignalRejected("invalid_request", "a logout token must not contain a nonce")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise SignalRejected("invalid_request", "the jti claim is missing")
    sid, sub = claims.get("sid", ""), claims.get("sub", "")
    if not isinstance(sid, str) or not isinstance(sub, str):
        raise SignalRejected("invalid_request", "sid and sub must be strings")
    if not sid and not sub:
        raise SignalRejected("invalid_request", "a logout token must contain sid, sub or both")
    return IdpSession(claims["iss"], sub, sid)


class BackchannelLogout:
    """The receiver; :meth:`routes` are served on the signals door."""

    def __init__(self, verifier: SignalVerifier, sessions: UpstreamSessions) -> None:
        self._verifier = verifier
        self._sessions = sessions

    def routes(self) -> list[SignalRoute]:
        """Its route on the signals door."""
        return [SignalRoute("POST", PATH, self._logout)]

    async def _logout(self, request: web.Request) -> web.Response:
        try:
            form = await request.post()
        except (ValueError, web.HTTPException):
            return _answer(400, "invalid_request", "expected a form-encoded body")
        tokens = form.getall("logout_token", [])
        if len(tokens) != 1 or not isinstance(tokens[0], str):
            return _answer(400, "invalid_request", "expected one logout_token")
        try:
            verified = await self._verifier.verify(tokens[0], typ=TOKEN_TYPE, error_for=_ERRORS)
            target = logout_target(verified.claims)
            ended = await self._sessions.end_once(
                target,
                RevocationReason.IDP_LOGOUT,
                LOGOUT_EVENT,
                jti=verified.claims["jti"],
                remember_s=self._verifier.remember_for_s(verified.claims),
            )
            if ended is None:
                raise SignalRejected("invalid_request", "this logout token was received before (jti)")
        except SignalRejected as e:
            log.info("back-channel logout refused: %s", e.description)
            return _answer(400, e.code, e.description)
        except KeysUnavailable as e:
            log.warning("back-channel logout: the issuer's keys are unavailable: %s", e)
            return _answer(503, "temporarily_unavailable", "the issuer's keys could not be fetched")
        except SessionError as e:
            log.warning("back-channel logout: the store is unavailable: %s", e)
            return _answer(503, "temporarily_unavailable", "the session store is unavailable")
        log.info("back-channel logout from %s ended %d session(s)", target.issuer, len(ended.session_ids))
        return _answer(200)
