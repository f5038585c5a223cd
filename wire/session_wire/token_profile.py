"""The access-token profile: what the server issues and every verifier checks.

Access tokens are JWTs (RFC 7519) per RFC 8725 and RFC 9068. Both the issuing side
(``session_service.tokens``) and the verifying side (``session_client.Verifier``) import
these values, so the two cannot drift apart.
"""

from __future__ import annotations

TOKEN_TYPE = "at+jwt"
"""The ``typ`` header (RFC 9068): no other kind of JWT passes for an access token."""

SUPPORTED_ALGORITHMS: tuple[str, ...] = ("EdDSA", "ES256", "RS256")
"""Signature algorithms a key may have; the verifier takes the algorithm from the key,
never from the token, and never accepts ``none`` or an HMAC."""

REQUIRED_CLAIMS: tuple[str, ...] = ("iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp")
"""Claims every access token carries and every verifier requires."""

OPTIONAL_CLAIMS: tuple[str, ...] = ("scope", "client_id", "cnf", "act", "acr", "amr", "auth_time")
"""Claims the service sets when the session has them (``cnf``: ``{"jkt": …}`` for a
DPoP-bound session, RFC 9449 section 6.1, or ``{"x5t#S256": …}`` for a token bound to a
client certificate, RFC 8705; ``act``: who acts on the user's behalf, RFC 8693 section
4.1, see :mod:`session_wire.delegation`; ``acr``, ``amr``, ``auth_time``: how and when
the user authenticated, RFC 9470, see :mod:`session_wire.assurance`)."""

RESERVED_CLAIMS: frozenset[str] = frozenset(REQUIRED_CLAIMS + OPTIONAL_CLAIMS)
"""Claims the service controls: a session's extra claims may not set them."""

DEFAULT_LEEWAY_S = 5
"""Clock skew, in seconds, tolerated on ``exp``, ``nbf`` and ``iat`` by default."""
