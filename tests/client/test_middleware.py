"""The middleware examples as a service would use them: a Starlette app behind the ASGI
middleware, and a grpc.aio server behind the interceptor, both with a real Verifier."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from session_client.middleware.asgi import SessionAuthMiddleware, access_token
from session_client.middleware.grpc_aio import SessionAuthInterceptor, current_token
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from tests.client.conftest import ClientFactory, VerifierFactory
from tests.conftest import Running


async def test_asgi_middleware_guards_a_starlette_app(
    svc: Running, connect: ClientFactory, start_verifier: VerifierFactory
) -> None:
    verifier = await start_verifier(svc)

    async def me(request: Request) -> JSONResponse:
        token = request.state.access_token
        assert token is access_token(request.scope)
        return JSONResponse({"user": token.subject, "scopes": list(token.scopes)})

    async def healthz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[Route("/me", me), Route("/healthz", healthz)],
        middleware=[Middleware(SessionAuthMiddleware, verifier=verifier, exempt_paths={"/healthz"})],
    )
    client = await connect(svc)
    created = await client.create("alice", scopes=["read"])
    bearer = {"authorization": f"Bearer {created.access_token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http:
        ok = await http.get("/me", headers=bearer)
        assert ok.status_code == 200 and ok.json() == {"user": "alice", "scopes": ["read"]}

        missing = await http.get("/me")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Bearer error="invalid_request"'
        garbage = await http.get("/me", headers={"authorization": "Bearer not-a-token"})
        assert garbage.status_code == 401 and garbage.json()["error"] == "invalid_token"
        assert (await http.get("/me", headers={"authorization": "Basic YTpi"})).status_code == 401
        assert (await http.get("/healthz")).text == "ok"

        await client.revoke_session(created.session.session_id)
        for _ in range(200):
            if verifier.is_revoked(created.session.session_id):
                break
            await _tick()
        revoked = await http.get("/me", headers=bearer)
        assert revoked.status_code == 401 and "SessionRevoked" in revoked.json()["error_description"]


async def _tick() -> None:
    await asyncio.sleep(0.01)


def _whoami_service() -> grpc.GenericRpcHandler:
    """A small service of the kind that would sit behind the interceptor (raw bytes, no stubs)."""

    async def whoami(request: bytes, context: Any) -> bytes:
        return current_token().subject.encode()

    async def sessions(request: bytes, context: Any) -> AsyncIterator[bytes]:
        token = current_token()
        for value in (token.subject, token.session_id):
            yield value.encode()

    return grpc.method_handlers_generic_handler(
        "demo.v1.Profile",
        {
            "Whoami": grpc.unary_unary_rpc_method_handler(whoami),
            "Sessions": grpc.unary_stream_rpc_method_handler(sessions),
        },
    )


async def test_grpc_interceptor_guards_a_grpc_aio_service(
    svc: Running, connect: ClientFactory, start_verifier: VerifierFactory
) -> None:
    verifier = await start_verifier(svc)
    server = grpc.aio.server(interceptors=[SessionAuthInterceptor(verifier)])
    server.add_generic_rpc_handlers((_whoami_service(),))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        client = await connect(svc)
        created = await client.create("bob")
        metadata = (("authorization", f"Bearer {created.access_token}"),)
        whoami: Any = channel.unary_unary("/demo.v1.Profile/Whoami")
        sessions: Any = channel.unary_stream("/demo.v1.Profile/Sessions")
        assert await whoami(b"", metadata=metadata) == b"bob"
        streamed = [m async for m in sessions(b"", metadata=metadata)]
        assert streamed == [b"bob", created.session.session_id.encode()]

        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await whoami(b"")
        assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as stream_missing:
            await sessions(b"").read()
        assert stream_missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # Probes carry no user token and are let through.
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING

        await client.revoke_session(created.session.session_id)
        for _ in range(200):
            if verifier.is_revoked(created.session.session_id):
                break
            await _tick()
        with pytest.raises(grpc.aio.AioRpcError) as revoked:
            await whoami(b"", metadata=metadata)
        assert revoked.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "SessionRevoked" in (revoked.value.details() or "")
        with pytest.raises(LookupError):
            current_token()  # outside an authenticated call
    finally:
        await channel.close()
        await server.stop(0)
