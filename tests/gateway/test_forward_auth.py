"""The forward-auth endpoint itself, over real HTTP: what nginx, Traefik and Caddy see."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from session_service.domain.clock import SystemClock
from session_service.domain.ids import new_session_id
from session_service.domain.model import ClientInfo, Session
from session_service.store.embedded import RedisServerProcess
from session_service.tokens.access import JwtCodec
from session_service.tokens.keyring import Keyring
from tests.conftest import free_port
from tests.gateway.conftest import GatewayService, gateway_checks, start_gateway_service, stop_gateway_service


async def _ask(
    url: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str]]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.request(method, url, headers=headers or {}) as response,
    ):
        await response.read()
        return response.status, {k.lower(): v for k, v in response.headers.items()}


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "DELETE", "OPTIONS"])
async def test_any_method_on_auth_answers_with_the_identity(
    gateway_service: GatewayService, method: str
) -> None:
    created = await gateway_service.login("alice", scopes=["read", "write"], client_id="web")
    status, headers = await _ask(
        gateway_service.forward_auth_url, method, {"Authorization": f"bearer {created.access_token}"}
    )
    assert status == 200
    assert headers["x-user-id"] == "alice"
    assert headers["x-session-id"] == created.session.session_id
    assert headers["x-scopes"] == "read write"
    assert headers["x-client-id"] == "web"


async def test_other_paths_are_not_found(gateway_service: GatewayService) -> None:
    status, _ = await _ask(gateway_service.forward_auth_url.replace("/auth", "/metrics"))
    assert status == 404


async def test_bearer_header_wins_over_the_cookie(gateway_service: GatewayService) -> None:
    alice = await gateway_service.login("alice")
    bob = await gateway_service.login("bob")
    status, headers = await _ask(
        gateway_service.forward_auth_url,
        headers={
            "Authorization": f"Bearer {alice.access_token}",
            "Cookie": f"session_token={bob.access_token}",
        },
    )
    assert (status, headers["x-user-id"]) == (200, "alice")


async def test_identity_header_names_and_cookie_name_are_configurable(
    redis_server: RedisServerProcess, keyring: Keyring
) -> None:
    started = await start_gateway_service(
        redis_server.url,
        keyring,
        forward_auth_cookie="__Host-sid",
        gateway_user_id_header="x-auth-request-user",
        gateway_session_id_header="x-auth-request-session",
    )
    try:
        created = await started.login("alice")
        status, headers = await _ask(
            started.forward_auth_url, headers={"Cookie": f"__Host-sid={created.access_token}"}
        )
        assert status == 200
        assert headers["x-auth-request-user"] == "alice"
        assert headers["x-auth-request-session"] == created.session.session_id
        assert "x-user-id" not in headers
    finally:
        await stop_gateway_service(started)


async def test_authoritative_mode_refuses_a_revoked_session_at_once(
    redis_server: RedisServerProcess, keyring: Keyring
) -> None:
    started = await start_gateway_service(redis_server.url, keyring, gateway_mode="authoritative")
    try:
        assert started.service.gateway is not None and started.service.gateway.revoked is None
        created = await started.login("alice")
        auth = {"Authorization": f"Bearer {created.access_token}"}
        assert (await _ask(started.forward_auth_url, headers=auth))[0] == 200
        await started.revoke(created.session.session_id)
        status, headers = await _ask(started.forward_auth_url, headers=auth)
        assert status == 401
        assert 'error="invalid_token"' in headers["www-authenticate"]
    finally:
        await stop_gateway_service(started)


async def test_with_its_feed_silent_local_mode_still_refuses_a_revoked_session_within_the_bound(
    redis_server: RedisServerProcess, keyring: Keyring
) -> None:
    started = await start_gateway_service(redis_server.url, keyring, gateway_freshness=1.0)
    try:
        gateway = started.service.gateway
        assert gateway is not None and gateway.revoked is not None
        created = await started.login("alice")
        auth = {"Authorization": f"Bearer {created.access_token}"}
        assert (await _ask(started.forward_auth_url, headers=auth))[0] == 200
        # The feed goes silent (as with a stuck reader): revocations no longer arrive.
        await gateway.revoked.close()
        await started.revoke(created.session.session_id)
        revoked_at = time.monotonic()
        while True:
            status, _ = await _ask(started.forward_auth_url, headers=auth)
            if status == 401:
                break
            await asyncio.sleep(0.05)
        assert time.monotonic() - revoked_at <= 1.0 + 0.5
    finally:
        await stop_gateway_service(started)


async def test_store_unreachable_in_authoritative_mode_is_503_without_identity(keyring: Keyring) -> None:
    # Nothing listens on this Redis port: the session cannot be confirmed, so nobody passes.
    started = await start_gateway_service(
        f"redis://127.0.0.1:{free_port()}/0", keyring, gateway_mode="authoritative", redis_timeout=0.3
    )
    try:
        codec = JwtCodec(keyring, "session-service", "internal", 900, 5)
        now = SystemClock().now_ms()
        session = Session(
            str(new_session_id("alice")),
            "alice",
            now,
            now,
            now + 60_000,
            now + 60_000,
            1,
            {},
            {},
            (),
            ClientInfo(),
            "",
        )
        token, _ = codec.issue(session, now)
        status, headers = await _ask(started.forward_auth_url, headers={"Authorization": f"Bearer {token}"})
        assert status == 503
        assert "x-user-id" not in headers
        assert gateway_checks(started, "forward_auth", "unavailable") == 1
    finally:
        await stop_gateway_service(started)


async def test_every_decision_is_counted_by_door(gateway_service: GatewayService) -> None:
    created = await gateway_service.login("alice")
    before = {d: gateway_checks(gateway_service, "forward_auth", d) for d in ("allowed", "denied")}
    assert (
        await _ask(
            gateway_service.forward_auth_url, headers={"Authorization": f"Bearer {created.access_token}"}
        )
    )[0] == 200
    for _ in range(2):
        assert (await _ask(gateway_service.forward_auth_url))[0] == 401
    assert gateway_checks(gateway_service, "forward_auth", "allowed") == before["allowed"] + 1
    assert gateway_checks(gateway_service, "forward_auth", "denied") == before["denied"] + 2


async def test_no_token_reaches_the_logs(
    gateway_service: GatewayService, caplog: pytest.LogCaptureFixture
) -> None:
    created = await gateway_service.login("alice")
    revoked = await gateway_service.login("alice")
    await gateway_service.revoke(revoked.session.session_id)
    forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.Zm9yZ2VkLXNpZ25hdHVyZQ"
    tokens = [created.access_token, revoked.access_token, forged]
    with caplog.at_level("DEBUG"):
        for token in tokens:
            await _ask(gateway_service.forward_auth_url, headers={"Authorization": f"Bearer {token}"})
            await _ask(gateway_service.forward_auth_url, headers={"Cookie": f"session_token={token}"})
    for token in tokens:
        assert token not in caplog.text
        assert token.split(".")[-1] not in caplog.text  # not even the signature
