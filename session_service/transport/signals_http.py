"""The signals door: an aiohttp server on ``SESSION_SIGNALS_PORT`` for single sign-on and
shared signals (OIDC Back-Channel Logout, SSF push, the SSF transmitter's metadata).

Each feature contributes :class:`SignalRoute` entries; app.py gathers them and starts one
:class:`SignalsServer`. The door serves TLS with the gRPC port's certificate and key
(``SESSION_TLS_CERT_FILE``/``SESSION_TLS_KEY_FILE``, following their rotations) but never
asks for a client certificate: what arrives here is authenticated by its own signature
(logout tokens, SETs), and identity providers do not present client certificates. The
server keeps no access log: requests carry tokens.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from session_service.security.tls import ServerTls, TlsMaterial

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
"""An aiohttp request handler."""

MAX_BODY_BYTES = 64 * 1024
"""The largest request body the door reads: a logout token or a SET is a few kilobytes."""


@dataclass(frozen=True)
class SignalRoute:
    """One route a feature serves on the signals door."""

    method: str
    """HTTP method, e.g. ``POST``."""
    path: str
    """Path, e.g. ``/oidc/backchannel-logout``."""
    handler: Handler
    """What answers it."""


class _RotatingContext:
    """An SSL context that picks up a rotated certificate for new connections: each
    handshake's SNI callback swaps in a context loaded from the files once the server's
    :class:`ServerTls` has loaded (and validated) new material."""

    def __init__(self, tls: ServerTls, cert_file: Path, key_file: Path) -> None:
        self._tls, self._cert_file, self._key_file = tls, cert_file, key_file
        self._material: TlsMaterial = tls.material
        self._current = self._load()
        self.context = self._load()
        self.context.sni_callback = self._select

    def _load(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self._cert_file, self._key_file)
        return context

    def _select(self, connection: ssl.SSLObject | ssl.SSLSocket, _name: str | None, _ctx: object) -> None:
        try:
            material = self._tls.material
            if material is not self._material:
                self._current = self._load()
                self._material = material
                log.info("signals door: serving rotated TLS certificate serial %x", material.serial_number)
            connection.context = self._current
        except Exception:
            # A failed reload keeps the certificate being served; the handshake goes on.
            log.exception("signals door: could not load the rotated TLS certificate")


class SignalsServer:
    """The signals HTTP endpoint; :meth:`start` binds it, :meth:`close` stops it."""

    def __init__(
        self,
        routes: Sequence[SignalRoute],
        *,
        tls: ServerTls | None = None,
        cert_file: str = "",
        key_file: str = "",
    ) -> None:
        """``routes``: every feature's routes (a path and method at most once). ``tls`` with
        the files it was loaded from serves HTTPS; without it, plain HTTP."""
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        for route in routes:
            app.router.add_route(route.method, route.path, route.handler)
        self.paths = tuple(f"{route.method} {route.path}" for route in routes)
        """What the door serves, for the start-up log."""
        self._ssl = None
        if tls is not None:
            self._ssl = _RotatingContext(tls, Path(cert_file), Path(key_file)).context
        # handle_signals=False: the service's own SIGTERM handling drains everything.
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self.port = 0
        """The port it listens on, once started."""

    @property
    def scheme(self) -> str:
        """``https`` or ``http``."""
        return "https" if self._ssl is not None else "http"

    async def start(self, host: str, port: int, *, reuse_port: bool = False) -> int:
        """Listens on ``host``:``port`` (0 picks a free one); returns the port."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=self._ssl, reuse_port=reuse_port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self.port

    async def close(self) -> None:
        """Stops listening and ends open connections."""
        await self._runner.cleanup()
