"""Access tokens: JWTs (RFC 7519) issued and verified per RFC 8725 and RFC 9068."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import jwt
from session_wire.assurance import ACR_CLAIM, AMR_CLAIM, AUTH_TIME_CLAIM
from session_wire.b64url import is_compact_jws
from session_wire.delegation import ACT_CLAIM, MAY_ACT_CLAIM, X5T_S256, act_json, may_act_subject
from session_wire.token_profile import REQUIRED_CLAIMS, TOKEN_TYPE

from session_service.domain.model import Session
from session_service.domain.ports import AccessClaims, ExchangedClaims
from session_service.tokens.keyring import Key, Keyring

_REQUIRED = list(REQUIRED_CLAIMS)


class JwtCodec:
    """Signs access tokens with the ring's signer and verifies them with its keys."""

    def __init__(self, keyring: Keyring, issuer: str, audience: str, ttl_s: int, leeway_s: int) -> None:
        self._keyring = keyring
        self._issuer = issuer
        self._audience = audience
        self._ttl_s = ttl_s
        self._leeway_s = leeway_s
        self._signer: Key | None = None
        self._algorithm: Any = None
        self._header_segment = b""

    def issue(self, session: Session, now_ms: int) -> tuple[str, int]:
        """A token valid for the configured TTL, never past the session's absolute expiry."""
        now = now_ms // 1000
        exp = min(now + self._ttl_s, session.absolute_expires_at_ms // 1000)
        claims: dict[str, Any] = dict(session.claims)
        claims.update(
            iss=self._issuer,
            aud=self._audience,
            sub=session.user_id,
            sid=session.session_id,
            jti=secrets.token_urlsafe(16),
            iat=now,
            nbf=now,
            exp=exp,
        )
        if session.scopes:
            claims["scope"] = " ".join(session.scopes)
        if session.client_id:
            claims["client_id"] = session.client_id
        if session.cnf_jkt:
            claims["cnf"] = {"jkt": session.cnf_jkt}
        if session.impersonator:
            claims[ACT_CLAIM] = {"sub": session.impersonator}  # RFC 8693 section 4.1
        # RFC 9470: how and when the user authenticated, for routes that require it.
        claims[AUTH_TIME_CLAIM] = (session.auth_time_ms or session.created_at_ms) // 1000
        if session.acr:
            claims[ACR_CLAIM] = session.acr
        if session.amr:
            claims[AMR_CLAIM] = list(session.amr)
        if MAY_ACT_CLAIM in claims:
            # JSON text among the session's string claims (checked at Create), an object in
            # the token (RFC 8693 section 4.4).
            actor = may_act_subject(claims.pop(MAY_ACT_CLAIM))
            if actor:
                claims[MAY_ACT_CLAIM] = {"sub": actor}
        return self._sign(claims), exp

    @property
    def audience(self) -> str:
        """The ``aud`` of the session's own tokens."""
        return self._audience

    def issue_exchanged(self, grant: ExchangedClaims, now_ms: int) -> str:
        """A token of exchanged claims (RFC 8693): one audience, the granted scopes, the
        ``act`` chain, the user's authentication (``acr``, ``amr``, ``auth_time``) and,
        when bound, ``cnf.x5t#S256``; the session's extra claims are not carried over (the
        token says no more than the exchange granted)."""
        now = now_ms // 1000
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": grant.audience,
            "sub": grant.sub,
            "sid": grant.sid,
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "nbf": now,
            "exp": grant.exp,
            ACT_CLAIM: dict(grant.act),
        }
        if grant.scopes:
            claims["scope"] = " ".join(grant.scopes)
        if grant.client_id:
            claims["client_id"] = grant.client_id
        if grant.cnf_x5t:
            claims["cnf"] = {X5T_S256: grant.cnf_x5t}
        if grant.auth_time:
            claims[AUTH_TIME_CLAIM] = grant.auth_time
        if grant.acr:
            claims[ACR_CLAIM] = grant.acr
        if grant.amr:
            claims[AMR_CLAIM] = list(grant.amr)
        return self._sign(claims)

    def _sign(self, claims: dict[str, Any]) -> str:
        # The JWS compact serialization (RFC 7515) by hand around PyJWT's algorithm object:
        # the protected header is the same for every token of a signer, so it is encoded
        # once, and only the claims are serialized per token.
        signer = self._keyring.signer
        if signer is not self._signer:
            self._signer = signer
            self._algorithm = jwt.get_algorithm_by_name(signer.algorithm)
            header = {"alg": signer.algorithm, "kid": signer.kid, "typ": TOKEN_TYPE}
            self._header_segment = _b64(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())
        assert signer.private is not None  # the Keyring guarantees a private signer
        signing_input = self._header_segment + b"." + _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = self._algorithm.sign(signing_input, signer.private)
        return (signing_input + b"." + _b64(signature)).decode("ascii")

    def verify(self, token: str, audience: str = "", *, any_audience: bool = False) -> AccessClaims | None:
        """Claims of a valid token; the algorithm comes from the key named by kid, never the token.

        The token's ``aud`` must be ``audience`` ('' means the session's own, SESSION_AUDIENCE),
        or any single audience with ``any_audience`` (what Exchange accepts)."""
        expected = audience or self._audience
        if not is_compact_jws(token):
            # PyJWT decodes base64url leniently: one token must not pass under two spellings.
            return None
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            key = self._keyring.find(kid) if isinstance(kid, str) else None
            if key is None or header.get("typ") != TOKEN_TYPE:
                return None
            claims = jwt.decode(
                token,
                key.public,
                algorithms=[key.algorithm],
                audience=None if any_audience else expected,
                issuer=self._issuer,
                leeway=self._leeway_s,
                options={"require": _REQUIRED, "verify_aud": not any_audience},
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        sub, sid = claims.get("sub"), claims.get("sid")
        if not isinstance(sub, str) or not isinstance(sid, str) or not sub or not sid:
            return None
        aud = claims["aud"] if any_audience else expected
        if not isinstance(aud, str) or not aud:
            return None  # the service issues one audience per token
        act = claims.get(ACT_CLAIM)
        if act is not None and not act_json(act):
            return None
        may_act = claims.get(MAY_ACT_CLAIM)
        actor = may_act_subject(may_act) if may_act is not None else ""
        if actor is None:
            return None
        return AccessClaims(
            sub=sub,
            sid=sid,
            scope=_text(claims.get("scope")),
            client_id=_text(claims.get("client_id")),
            iss=self._issuer,
            aud=aud,
            jti=_text(claims.get("jti")),
            exp=int(claims["exp"]),
            iat=int(claims["iat"]),
            nbf=int(claims["nbf"]),
            cnf_jkt=_cnf(claims.get("cnf"), "jkt"),
            cnf_x5t=_cnf(claims.get("cnf"), X5T_S256),
            act=act_json(act),
            may_act=actor,
            acr=_text(claims.get(ACR_CLAIM)),
            amr=_amr(claims.get(AMR_CLAIM)),
            auth_time=_auth_time(claims.get(AUTH_TIME_CLAIM)),
        )

    def jwks_json(self) -> str:
        """The ring's public keys."""
        return self._keyring.jwks_json()


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _amr(value: object) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _auth_time(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _cnf(cnf: object, member: str) -> str:
    return _text(cnf.get(member)) if isinstance(cnf, dict) else ""


def _b64(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")
