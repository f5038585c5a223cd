"""Access tokens: JWTs (RFC 7519) issued and verified per RFC 8725 and RFC 9068."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import jwt
from session_wire.b64url import is_compact_jws
from session_wire.token_profile import REQUIRED_CLAIMS, TOKEN_TYPE

from session_service.domain.model import Session
from session_service.domain.ports import AccessClaims
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
        return self._sign(claims), exp

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

    def verify(self, token: str) -> AccessClaims | None:
        """Claims of a valid token; the algorithm comes from the key named by kid, never the token."""
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
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway_s,
                options={"require": _REQUIRED},
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        sub, sid = claims.get("sub"), claims.get("sid")
        if not isinstance(sub, str) or not isinstance(sid, str) or not sub or not sid:
            return None
        return AccessClaims(
            sub=sub,
            sid=sid,
            scope=_text(claims.get("scope")),
            client_id=_text(claims.get("client_id")),
            iss=self._issuer,
            aud=self._audience,
            jti=_text(claims.get("jti")),
            exp=int(claims["exp"]),
            iat=int(claims["iat"]),
            nbf=int(claims["nbf"]),
            cnf_jkt=_jkt(claims.get("cnf")),
        )

    def jwks_json(self) -> str:
        """The ring's public keys."""
        return self._keyring.jwks_json()


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _jkt(cnf: object) -> str:
    return _text(cnf.get("jkt")) if isinstance(cnf, dict) else ""


def _b64(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")
