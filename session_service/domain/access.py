"""The one check of an access token, behind every door that asks "whose request is this?".

``Introspect`` (RPC), Envoy's ``Check`` and HTTP forward-auth all decide with
:class:`AccessCheck`: the token must verify (signature with the key named by ``kid``,
``typ``, ``iss``, ``aud``, times, required claims) and, for an authoritative answer, its
session must be live in the store and belong to the token's subject. Gateways may answer
from what they verified before (:mod:`session_service.domain.gateway`), but they fall
back to this same authoritative read; nothing else decides.
"""

from __future__ import annotations

from session_wire.token_cache import VerifiedTokenCache

from session_service.domain.ids import parse_session_id
from session_service.domain.model import INACTIVE, Introspection
from session_service.domain.ports import AccessClaims, AccessTokenCodec, SessionStore

VerifiedTokens = VerifiedTokenCache[Introspection]
"""The cache of verified tokens' identities, by SHA-256 of the token, in epoch milliseconds.

Only a token that verified is put there, until its ``exp``, and the keyring is fixed for
the life of the process, so a hit is exactly what verifying again would answer. It says
nothing about the session: callers still read or follow it. Shared by Introspect and the
gateway checks; the client's Verifier and the caller-token verifier keep a
:class:`~session_wire.token_cache.VerifiedTokenCache` too.
"""


class AccessCheck:
    """Verifies access tokens and confirms their sessions in the store."""

    def __init__(
        self, tokens: AccessTokenCodec, store: SessionStore, verified: VerifiedTokens | None = None
    ) -> None:
        """``verified`` remembers tokens that verified, so a repeated Introspect of one token
        costs a digest instead of a signature check (its session is still read every time)."""
        self._tokens = tokens
        self._store = store
        self._verified = verified

    def verify(self, token: str, audience: str = "") -> Introspection | None:
        """The token's identity when it verifies for ``audience`` ('' means SESSION_AUDIENCE;
        no I/O), else None."""
        claims = self._tokens.verify(token, audience)
        if claims is None or parse_session_id(claims.sid) is None:
            return None
        return identity_of(claims)

    def verified(self, token: str, now_ms: int, audience: str = "") -> Introspection | None:
        """:meth:`verify`, answered from the cache of tokens that verified before (a digest
        and a dictionary look-up) until they expire. Liveness is never cached."""
        cache = self._verified
        if cache is None:
            return self.verify(token, audience)
        digest = cache.digest(token)
        identity = cache.get(digest, now_ms)
        if identity is not None:
            # A token has one audience: verified once for it, it is for no other.
            return identity if identity.aud == (audience or self._tokens.audience) else None
        identity = self.verify(token, audience)
        if identity is not None:
            # Until exp: the leeway past it is left to a fresh verification.
            cache.put(digest, identity, identity.exp * 1000)
        return identity

    async def confirm(self, verified: Introspection, now_ms: int) -> Introspection:
        """``verified`` while its session is live and its user's, else INACTIVE (reads the store)."""
        sid = parse_session_id(verified.sid)
        if sid is None:
            return INACTIVE
        # Only liveness and the owner matter here: three fields, not the whole session.
        if await self._store.live_owner(sid, now_ms) != verified.sub:
            return INACTIVE
        return verified

    async def authoritative(self, token: str, now_ms: int, audience: str = "") -> Introspection | None:
        """The answer Introspect gives for an access token; None when it is not one at all."""
        verified = self.verified(token, now_ms, audience)
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
        cnf_jkt=claims.cnf_jkt,
        cnf_x5t=claims.cnf_x5t,
        act=claims.act,
        acr=claims.acr,
        amr=claims.amr,
        auth_time=claims.auth_time,
    )
