"""The one check of an access token, behind every door that asks "whose request is this?".

``Introspect`` (RPC), Envoy's ``Check`` and HTTP forward-auth all decide with
:class:`AccessCheck`: the token must verify (signature with the key named by ``kid``,
``typ``, ``iss``, ``aud``, times, required claims) and, for an authoritative answer, its
session must be live in the store and belong to the token's subject. Gateways may answer
from what they verified before (:mod:`session_service.domain.gateway`), but they fall
back to this same authoritative read; nothing else decides.
"""

from __future__ import annotations

from session_service.domain.ids import parse_session_id
from session_service.domain.model import INACTIVE, Introspection
from session_service.domain.ports import AccessClaims, AccessTokenCodec, SessionStore


class AccessCheck:
    """Verifies access tokens and confirms their sessions in the store."""

    def __init__(self, tokens: AccessTokenCodec, store: SessionStore) -> None:
        self._tokens = tokens
        self._store = store

    def verify(self, token: str) -> Introspection | None:
        """The token's identity when it verifies (no I/O), else None."""
        claims = self._tokens.verify(token)
        if claims is None or parse_session_id(claims.sid) is None:
            return None
        return identity_of(claims)

    async def confirm(self, verified: Introspection, now_ms: int) -> Introspection:
        """``verified`` while its session is live and its user's, else INACTIVE (reads the store)."""
        sid = parse_session_id(verified.sid)
        if sid is None:
            return INACTIVE
        session = await self._store.peek(sid, now_ms)
        if session is None or session.user_id != verified.sub:
            return INACTIVE
        return verified

    async def authoritative(self, token: str, now_ms: int) -> Introspection | None:
        """The answer Introspect gives for an access token; None when it is not one at all."""
        verified = self.verify(token)
        if verified is None:
            return None
        return await self.confirm(verified, now_ms)


def identity_of(claims: AccessClaims) -> Introspection:
    """The RFC 7662 view of verified access-token claims."""
    return Introspection(
        active=True,
        sub=claims.sub,
        sid=claims.sid,
        scope=claims.scope,
        client_id=claims.client_id,
        token_type="access_token",
        exp=claims.exp,
        iat=claims.iat,
        nbf=claims.nbf,
        iss=claims.iss,
        aud=claims.aud,
        jti=claims.jti,
    )
