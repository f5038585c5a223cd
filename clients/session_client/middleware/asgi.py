"""ASGI middleware that authenticates requests with a :class:`~session_client.verifier.Verifier`.

With FastAPI or Starlette::

    verifier = Verifier(SessionClient("session-service:50051", tls=TlsConfig(root_certificates=ca)))
    app = FastAPI(lifespan=...)          # start the verifier in the lifespan
    app.add_middleware(SessionAuthMiddleware, verifier=verifier, exempt_paths={"/healthz"})

    @app.get("/me")
    async def me(request: Request) -> dict[str, str]:
        return {"user": access_token(request.scope).subject}

A request without a valid ``Authorization: Bearer <access token>`` gets 401 with a
``WWW-Authenticate`` header (RFC 6750); a valid one reaches the app with the verified
token in ``scope["state"]["access_token"]`` (``request.state.access_token``). A
DPoP-bound token comes as ``Authorization: DPoP <access token>`` with its ``DPoP`` proof
header, checked against the request's method and URI as the app sees them (behind a
proxy, run the server so that its scheme and host are the client's, e.g. uvicorn
``--proxy-headers``); a refusal then gets a ``WWW-Authenticate: DPoP`` challenge
(RFC 9449 section 7.1).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

from session_wire.dpop import INVALID_TOKEN, HttpProof, challenge, dpop_token

from session_client.errors import InvalidDpopProof, RevocationsStale, TokenError
from session_client.verifier import VerifiedToken, Verifier

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STATE_KEY = "access_token"
"""Where the verified token goes in ``scope["state"]``."""


def bearer_token(headers: Collection[tuple[bytes, bytes]]) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if there is exactly one such header."""
    values = [v for k, v in headers if k.lower() == b"authorization"]
    if len(values) != 1:
        return None
    scheme, _, token = values[0].decode("latin-1").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def access_token(scope: Scope) -> VerifiedToken:
    """The token the middleware verified for this request (KeyError on an exempt path)."""
    token: VerifiedToken = scope["state"][STATE_KEY]
    return token


class SessionAuthMiddleware:
    """Lets a request through only with a valid, unrevoked access token."""

    def __init__(self, app: ASGIApp, verifier: Verifier, *, exempt_paths: Collection[str] = ()) -> None:
        self._app = app
        self._verifier = verifier
        self._exempt = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") in self._exempt:
            await self._app(scope, receive, send)
            return
        headers = scope.get("headers", ())
        dpop = _dpop_request(scope, headers)
        token = dpop[0] if dpop is not None else bearer_token(headers)
        if token is None:
            await _reject(scope, send, 401, "invalid_request", "a Bearer access token is required")
            return
        try:
            verified = await self._verifier.verify_async(token, dpop=None if dpop is None else dpop[1])
        except RevocationsStale as e:
            await _reject(scope, send, 503, "temporarily_unavailable", str(e))
            return
        except TokenError as e:
            # The challenge is of the scheme the request used (RFC 9449 section 7.1).
            error = e.error if isinstance(e, InvalidDpopProof) else INVALID_TOKEN
            dpop_challenge = challenge(error, self._verifier.dpop_algorithms) if dpop is not None else None
            await _reject(scope, send, 401, error, f"{type(e).__name__}: {e}", dpop_challenge)
            return
        scope.setdefault("state", {})[STATE_KEY] = verified
        await self._app(scope, receive, send)


def _dpop_request(scope: Scope, headers: Collection[tuple[bytes, bytes]]) -> tuple[str, HttpProof] | None:
    """The token and proof of a request that uses the DPoP scheme; None for any other."""
    authorization = [v for k, v in headers if k.lower() == b"authorization"]
    token = dpop_token(authorization[0].decode("latin-1")) if len(authorization) == 1 else None
    if token is None:
        return None
    proofs = [v.decode("latin-1") for k, v in headers if k.lower() == b"dpop"]
    hosts = [v.decode("latin-1") for k, v in headers if k.lower() == b"host"]
    server = scope.get("server")
    host = hosts[0] if hosts else f"{server[0]}:{server[1]}" if server else ""
    scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", "http"), scope.get("scheme", "http"))
    method = scope.get("method", "GET")
    # Exactly one proof (section 4.3 item 1): two are one invalid proof.
    proof = proofs[0] if len(proofs) == 1 else ",".join(proofs)
    return token, HttpProof(proof, method, f"{scheme}://{host}{scope.get('path', '/')}")


async def _reject(
    scope: Scope, send: Send, status: int, error: str, description: str, dpop_challenge: str | None = None
) -> None:
    if scope["type"] == "websocket":
        # Closing before accepting makes the server answer the handshake with 403.
        await send({"type": "websocket.close", "code": 1008, "reason": error})
        return
    body = json.dumps({"error": error, "error_description": description}).encode()
    www_authenticate = (dpop_challenge or f'Bearer error="{error}"').encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", www_authenticate),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
