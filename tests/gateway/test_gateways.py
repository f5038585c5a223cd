"""Real nginx (auth_request) and real Caddy (forward_auth) in front of an upstream that
echoes its request headers: what reaches the upstream, and what the client gets."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from tests.gateway.conftest import IDENTITY_HEADERS, Gateway, GatewayService

FORGED = "eyJhbGciOiJFZERTQSIsImtpZCI6Im5vbmUiLCJ0eXAiOiJhdCtqd3QifQ.eyJzdWIiOiJtYWxsb3J5In0.c2ln"


async def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.get(url, headers=headers or {}) as response,
    ):
        return response.status, {k.lower(): v for k, v in response.headers.items()}, await response.text()


async def test_valid_token_reaches_the_upstream_with_the_identity_headers(
    gateway: Gateway, gateway_service: GatewayService
) -> None:
    created = await gateway_service.login("alice", scopes=["read", "write"], client_id="web")
    status, _, body = await _get(
        f"{gateway.url}/orders?x=1", {"Authorization": f"Bearer {created.access_token}"}
    )
    assert status == 200, body
    received = json.loads(body)
    assert received["x-user-id"] == "alice"
    assert received["x-session-id"] == created.session.session_id
    assert received["x-scopes"] == "read write"
    assert received["x-client-id"] == "web"


async def test_token_in_the_session_cookie_is_accepted(
    gateway: Gateway, gateway_service: GatewayService
) -> None:
    created = await gateway_service.login("carol")
    status, _, body = await _get(gateway.url, {"Cookie": f"theme=dark; session_token={created.access_token}"})
    assert status == 200, body
    assert '"x-user-id": "carol"' in body


async def test_client_supplied_identity_headers_never_reach_the_upstream(
    gateway: Gateway, gateway_service: GatewayService
) -> None:
    created = await gateway_service.login("alice")  # no scopes, no client_id: those headers stay empty
    forged = {h: "mallory" for h in IDENTITY_HEADERS}
    status, _, body = await _get(gateway.url, {**forged, "Authorization": f"Bearer {created.access_token}"})
    assert status == 200, body
    assert "mallory" not in body
    assert '"x-user-id": "alice"' in body
    # Without a token the forged headers do not get through either: nothing does.
    status, _, body = await _get(gateway.url, forged)
    assert status == 401
    assert "mallory" not in body


async def test_missing_forged_and_bad_tokens_get_401_with_a_bearer_challenge(
    gateway: Gateway, gateway_service: GatewayService
) -> None:
    status, headers, _ = await _get(gateway.url)
    assert status == 401
    assert headers["www-authenticate"] == "Bearer"
    for credentials in (f"Bearer {FORGED}", "Bearer not-a-jwt", "Basic YWxpY2U6c2VjcmV0"):
        status, headers, body = await _get(gateway.url, {"Authorization": credentials})
        assert status == 401, credentials
        assert headers["www-authenticate"].startswith("Bearer"), credentials
        assert "Traceback" not in body
    status, headers, _ = await _get(gateway.url, {"Authorization": f"Bearer {FORGED}"})
    assert 'error="invalid_token"' in headers["www-authenticate"]


async def test_revoked_session_is_refused_at_the_gateway_within_the_freshness_bound(
    gateway: Gateway, gateway_service: GatewayService
) -> None:
    created = await gateway_service.login("bob")
    auth = {"Authorization": f"Bearer {created.access_token}"}
    status, _, _ = await _get(gateway.url, auth)
    assert status == 200  # now verified and cached by the local check
    await gateway_service.revoke(created.session.session_id)
    revoked_at = time.monotonic()
    bound = gateway_service.service.settings.gateway_freshness
    while True:
        status, headers, _ = await _get(gateway.url, auth)
        if status == 401:
            break
        assert time.monotonic() - revoked_at < bound, "a revoked session still passes after the bound"
        await asyncio.sleep(0.01)
    assert 'error="invalid_token"' in headers["www-authenticate"]
