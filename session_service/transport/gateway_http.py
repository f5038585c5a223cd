"""What the gateway doors (Envoy ``Check``, HTTP forward-auth) share: HTTP semantics.

Both get an HTTP request's headers, take the bearer token from ``Authorization: Bearer``
(RFC 6750 section 2.1) or from the configured cookie, or a DPoP-bound token from
``Authorization: DPoP`` with its ``DPoP`` proof header (RFC 9449 section 7.1), ask the
one domain check (:class:`~session_service.domain.gateway.GatewayCheck`) and turn its
answer into an :class:`HttpAnswer`: 200 with the identity headers for the upstream, 401
with a ``WWW-Authenticate`` challenge of the scheme the request used (``Bearer``, RFC
6750 section 3; ``DPoP`` with ``algs`` and, when server nonces are on, a ``DPoP-Nonce``
header), or 503 when the answer needed the store and the store failed. Each transport
only maps that answer to its own wire format. No answer repeats the token.

A proof is made for the client's request, not for the gateway's question: its method
and absolute URI come from the gateway, as :func:`forwarded_request` reads them (or,
for Envoy, from the CheckRequest's attributes).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from session_wire.assurance import Requirement
from session_wire.delegation import certificate_thumbprint
from session_wire.dpop import (
    INVALID_DPOP_PROOF,
    INVALID_TOKEN,
    NONCE_HEADER,
    USE_DPOP_NONCE,
    HttpProof,
    challenge,
    dpop_token,
)

from session_service.domain.assurance import RequirementUnmet
from session_service.domain.gateway import GatewayCheck
from session_service.domain.model import ClientInfo
from session_service.domain.risk import normalized_ip
from session_service.errors import DpopProofInvalid, SessionError

log = logging.getLogger(__name__)

# RFC 6750 section 2.1: b64token.
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*) *")

CHALLENGE_NO_TOKEN = "Bearer"
"""RFC 6750 section 3.1: a request without credentials gets no error code."""
CHALLENGE_INVALID_TOKEN = (
    'Bearer error="invalid_token", error_description="The access token is invalid, expired or revoked"'
)
"""The same words for every rejected token: which check failed is nobody's business."""


@dataclass(frozen=True)
class IdentityHeaders:
    """The names of the headers that carry the identity upstream."""

    user_id: str = "x-user-id"
    """The user (``sub``)."""
    session_id: str = "x-session-id"
    """The session (``sid``)."""
    scopes: str = "x-scopes"
    """Space-separated scopes."""
    client_id: str = "x-client-id"
    """The session's ``client_id``."""

    @property
    def names(self) -> tuple[str, str, str, str]:
        """All four, in order."""
        return (self.user_id, self.session_id, self.scopes, self.client_id)


@dataclass(frozen=True)
class HttpAnswer:
    """A gateway decision in HTTP terms."""

    status: int
    """200 allows the request; 401, 403, 500 (a misconfigured route) or 503 refuse it."""
    upstream_headers: tuple[tuple[str, str], ...] = ()
    """Allowed: identity headers to set on the request sent upstream (those with a value)."""
    upstream_headers_to_remove: tuple[str, ...] = ()
    """Allowed: identity headers without a value, whose incoming copies must still go."""
    client_headers: tuple[tuple[str, str], ...] = ()
    """Refused: headers for the client, e.g. WWW-Authenticate."""
    body: str = ""
    """Refused: a short text for the client (never a trace)."""

    @property
    def allowed(self) -> bool:
        """Whether the request may go on."""
        return self.status == 200


def forwarded_request(header: Callable[[str], str | None]) -> tuple[str, str] | None:
    """The method and absolute URI of the client's request, as the gateway forwards them;
    None when it does not.

    ``X-Forwarded-Method`` and ``X-Forwarded-Uri`` (Traefik, Caddy), else
    ``X-Original-Method`` and ``X-Original-URL`` or ``X-Original-URI`` (nginx,
    ingress-nginx); a path is made absolute with ``X-Forwarded-Proto`` (default http) and
    ``X-Forwarded-Host`` (else ``Host``). Of a list (a chain of proxies) the first counts.
    The gateway must set these itself: a client's own copies must not get through."""
    method = header("x-forwarded-method") or header("x-original-method")
    target = header("x-forwarded-uri") or header("x-original-url") or header("x-original-uri")
    if not method or not target:
        return None
    if target.startswith("/"):
        proto = _first(header("x-forwarded-proto")) or "http"
        host = _first(header("x-forwarded-host")) or _first(header("host"))
        if not host:
            return None
        target = f"{proto}://{host}{target}"
    return method.strip().upper(), target.strip()


def _first(value: str | None) -> str:
    return value.split(",", 1)[0].strip() if value else ""


_MAX_USER_AGENT = 512
"""Characters of a User-Agent kept as a session's last client (SESSION limits' client field)."""


def client_address(forwarded_for: str | None, peer: str | None, trusted_proxies: int) -> str:
    """The client's IP address: of the chain ``X-Forwarded-For`` entries then ``peer`` (the
    direct peer; None when the last entry already is, as Envoy with ``use_remote_address``
    appends it), the one ``trusted_proxies`` hops from its end (0: the direct peer; 1: the
    entry the one trusted proxy appended). Entries left of the trusted ones are the client's
    to forge and are never read. '' when that entry is missing or not an IP address
    (normalised: an IPv4-mapped IPv6 address as IPv4)."""
    chain = [e.strip() for e in forwarded_for.split(",")] if forwarded_for else []
    if peer is not None:
        chain.append(peer)
    if trusted_proxies >= len(chain):
        return ""
    try:
        return str(normalized_ip(chain[-1 - trusted_proxies]))
    except ValueError:
        return ""


def bearer_token(header: Callable[[str], str | None], cookie_name: str) -> str | None:
    """The token of a request: ``Authorization: Bearer``, else the cookie; None when neither.

    ``header`` looks a header up by its lower-case name. An Authorization header of another
    scheme (Basic, …) is not ours and is passed over, as is a malformed Bearer value:
    those count as no token unless the cookie has one."""
    authorization = header("authorization")
    if authorization:
        match = _BEARER.fullmatch(authorization)
        if match:
            return match.group(1)
        if authorization[:7].lower() == "bearer ":
            return ""  # a Bearer credential that is not a token: invalid, not absent
    cookies = header("cookie")
    if cookies:
        for pair in cookies.split(";"):
            name, sep, value = pair.strip().partition("=")
            if sep and name == cookie_name:
                value = value.strip()
                return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    return None


class GatewayDoor:
    """One decision for a request's headers, as every gateway transport asks for it."""

    def __init__(
        self,
        check: GatewayCheck,
        headers: IdentityHeaders,
        cookie_name: str,
        decided: Callable[[str, int], None] = lambda door, status: None,
        *,
        trusted_proxies: int = 0,
    ) -> None:
        """``decided(door, status)`` hears every answer (metrics); ``trusted_proxies``: how
        many proxies' X-Forwarded-For entries name the client (:func:`client_address`)."""
        self._trusted_proxies = trusted_proxies
        self._check = check
        self._headers = headers
        self._cookie = cookie_name
        self._decided = decided

    @property
    def identity_headers(self) -> IdentityHeaders:
        """The names of the identity headers."""
        return self._headers

    async def answer(
        self,
        header: Callable[[str], str | None],
        door: str,
        request: tuple[str, str] | None = None,
        *,
        audience: str = "",
        peer_certificate: str | bytes | None = None,
        requirement: Requirement | None = None,
        peer: str | None = None,
    ) -> HttpAnswer:
        """Decides for the request whose headers ``header`` looks up (lower-case names);
        ``door`` names the transport that asks (``envoy``, ``forward_auth``); ``request``:
        the client request's method and absolute URI when the transport knows them (else
        the forwarded headers tell, see :func:`forwarded_request`).

        ``audience``: the one the route requires, from the gateway's configuration of the
        route ('' means SESSION_AUDIENCE); ``peer_certificate``: the client certificate the
        proxy verified, as the proxy passes it (PEM, URL-escaped PEM or DER), for tokens
        bound to a certificate. Neither may come from anything the client can set.

        ``requirement``: what the route requires beyond a valid token (RFC 9470 ``max_age``
        and ``acr_values``, RFC 6750 ``scope``), from the gateway's configuration of the
        route too; unmet, the answer is 401 ``insufficient_user_authentication`` or 403
        ``insufficient_scope`` with its challenge.

        ``peer``: the address the request came from (forward-auth: the proxy asking;
        Envoy: the downstream client); with ``X-Forwarded-For`` and the trusted proxies it
        gives the client's address, which with the ``User-Agent`` becomes the session's
        last client (and feeds the risk signals)."""
        peer_x5t = certificate_thumbprint(peer_certificate) if peer_certificate else None
        client = ClientInfo(
            client_address(header("x-forwarded-for"), peer, self._trusted_proxies),
            (header("user-agent") or "")[:_MAX_USER_AGENT],
        )
        answer = await self._decide(header, request, audience, peer_x5t, requirement, client)
        self._decided(door, answer.status)
        return answer

    async def _decide(
        self,
        header: Callable[[str], str | None],
        request: tuple[str, str] | None,
        audience: str,
        peer_x5t: str | None,
        requirement: Requirement | None = None,
        client: ClientInfo | None = None,
    ) -> HttpAnswer:
        proof: HttpProof | None = None
        token = dpop_token(header("authorization"))
        if token is not None:
            request = request or forwarded_request(header)
            if request is None:
                log.warning("a DPoP request without its method and URI: the gateway must forward them")
                return self._refused_dpop(INVALID_DPOP_PROOF)
            proof = HttpProof(header("dpop") or "", *request)
        else:
            token = bearer_token(header, self._cookie)
        if token is None:
            return _refused(CHALLENGE_NO_TOKEN)
        try:
            identity = await self._check.check(
                token, proof, audience=audience, peer_x5t=peer_x5t, requirement=requirement, client=client
            )
        except RequirementUnmet as e:
            return HttpAnswer(
                e.challenge.status,
                client_headers=(("www-authenticate", e.challenge.www_authenticate),),
                body="forbidden\n" if e.challenge.status == 403 else "unauthorized\n",
            )
        except DpopProofInvalid as e:
            return self._refused_dpop(USE_DPOP_NONCE if e.nonce else INVALID_DPOP_PROOF, e.nonce)
        except SessionError as e:
            # Only the store failing gets here (StoreUnavailable): the gateway should retry
            # or fail closed, never let the request through.
            log.warning("gateway check could not be made: %s", e.reason)
            return HttpAnswer(503, client_headers=(("retry-after", "1"),), body="session check unavailable\n")
        if not identity.active:
            return _refused(CHALLENGE_INVALID_TOKEN) if proof is None else self._refused_dpop(INVALID_TOKEN)
        values = (identity.sub, identity.sid, identity.scope, identity.client_id)
        present: list[tuple[str, str]] = []
        absent: list[str] = []
        for name, value in zip(self._headers.names, values, strict=True):
            if value:
                present.append((name, value))
            else:
                absent.append(name)
        return HttpAnswer(200, upstream_headers=tuple(present), upstream_headers_to_remove=tuple(absent))

    def _refused_dpop(self, error: str, nonce: str = "") -> HttpAnswer:
        # RFC 9449 section 7.1: the DPoP scheme's challenge names the algorithms accepted.
        return _refused(challenge(error, self._check.dpop_algorithms), nonce)


def misconfigured_route(what: str) -> HttpAnswer:
    """The answer for a route whose gateway configuration is malformed (logged, and never
    a pass: a route's requirement that cannot be read is not met)."""
    log.warning("gateway route misconfigured: %s; fix the gateway's configuration", what)
    return HttpAnswer(500, body="misconfigured route\n")


def _refused(www_authenticate: str, nonce: str = "") -> HttpAnswer:
    headers: tuple[tuple[str, str], ...] = (("www-authenticate", www_authenticate),)
    if nonce:
        headers += ((NONCE_HEADER.lower(), nonce),)
    return HttpAnswer(401, client_headers=headers, body="unauthorized\n")
