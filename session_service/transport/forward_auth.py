"""HTTP forward-auth: ``/auth`` for nginx ``auth_request``, Traefik ``ForwardAuth`` and
Caddy ``forward_auth``.

A thin door over :class:`~session_service.transport.gateway_http.GatewayDoor`, served by
aiohttp on ``SESSION_FORWARD_AUTH_PORT``. Any method on ``/auth`` answers 200 with the
identity headers (the gateway copies them onto the request it forwards), 401 with
``WWW-Authenticate: Bearer`` (or ``DPoP``), or 503 when the store could not be read. The
gateway sends the original request's headers along, so the token comes from its
``Authorization: Bearer`` header or its cookie, or from ``Authorization: DPoP`` with its
``DPoP`` proof, whose method and URI the gateway forwards in ``X-Forwarded-*`` or
``X-Original-*`` headers. The server keeps no access log: its requests carry tokens.

A route that serves another audience than ``SESSION_AUDIENCE`` says so in the URL the
gateway is configured with, ``/auth?aud=orders-api``, never in a header a client could
send. When ``SESSION_FORWARD_AUTH_CLIENT_CERT_HEADER`` names a header, the proxy puts
the client certificate it verified there (nginx ``$ssl_client_escaped_cert``, Caddy
``{http.request.tls.client.certificate_der_base64}``), and a token bound to a certificate
(RFC 8705) passes only with that certificate; the proxy must always set (or clear) that
header itself.

A route's requirements go in the URL too (RFC 9470, RFC 6750):
``/auth?max_age=300&acr_values=mfa%20hwk&scope=orders:write`` answers 401 with a
``Bearer error="insufficient_user_authentication"`` challenge naming ``acr_values`` and
``max_age`` when the user authenticated too long ago or otherwise, and 403
``insufficient_scope`` when the token lacks a scope. A malformed requirement answers 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web
from session_wire.assurance import Requirement

from session_service.transport.gateway_http import GatewayDoor, HttpAnswer, misconfigured_route

log = logging.getLogger(__name__)

PATH = "/auth"
"""Where the gateways send their sub-requests."""
DOOR = "forward_auth"
"""This transport's name in the gateway_checks_total metric."""


def _header_lookup(request: web.Request) -> Callable[[str], str | None]:
    # Repeated headers count as one list, as in Envoy's header map: two DPoP proofs are
    # one invalid proof, not a choice of the first.
    def header(name: str) -> str | None:
        values = request.headers.getall(name, ())
        return ",".join(values) if values else None

    return header


class ForwardAuthServer:
    """The forward-auth HTTP endpoint; :meth:`start` binds it, :meth:`close` stops it."""

    def __init__(self, door: GatewayDoor, client_cert_header: str = "") -> None:
        """``client_cert_header``: the header in which the proxy passes the client's verified
        certificate ('' when it passes none: certificate-bound tokens never pass)."""
        self._door = door
        self._client_cert_header = client_cert_header
        app = web.Application()
        app.router.add_route("*", PATH, self._auth)
        # handle_signals=False: the service's own SIGTERM handling drains everything.
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self.port = 0
        """The port it listens on, once started."""

    async def start(self, host: str, port: int, *, reuse_port: bool = False) -> int:
        """Listens on ``host``:``port`` (0 picks a free one); returns the port. ``reuse_port``
        lets worker processes share it."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_port=reuse_port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self.port

    async def close(self) -> None:
        """Stops listening and ends open connections."""
        await self._runner.cleanup()

    async def _auth(self, request: web.Request) -> web.Response:
        audiences = request.query.getall("aud", [])
        if len(audiences) > 1:
            log.warning("forward-auth URL with more than one aud: fix the gateway's configuration")
            return web.Response(status=500, text="misconfigured audience\n")
        certificate = request.headers.get(self._client_cert_header) if self._client_cert_header else None
        try:
            requirement = Requirement.parse(lambda name: request.query.getall(name, []))
        except ValueError as e:
            return _web_response(misconfigured_route(f"forward-auth URL: {e}"))
        try:
            answer = await self._door.answer(
                _header_lookup(request),
                DOOR,
                audience=audiences[0] if audiences else "",
                peer_certificate=certificate or None,
                requirement=requirement,
                peer=request.remote,
            )
        except Exception:
            # A bug, not a decision: refuse without a trace for the client; the log has it
            # (without the request, whose headers hold the token).
            log.exception("forward-auth check failed unexpectedly")
            return web.Response(status=500, text="internal error\n")
        return _web_response(answer)


def _web_response(answer: HttpAnswer) -> web.Response:
    if answer.allowed:
        return web.Response(status=200, headers=dict(answer.upstream_headers))
    return web.Response(status=answer.status, headers=dict(answer.client_headers), text=answer.body)
