"""Routes that require a recent or stronger authentication, or scopes (RFC 9470, RFC 6750),
at every door: real nginx and Caddy in front of forward-auth, Envoy's Check over gRPC,
and the Python Verifier. The challenge reaches the client as the RFC spells it."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from session_client import (
    InsufficientScope,
    InsufficientUserAuthentication,
    Requirement,
    SessionClient,
    Verifier,
)
from session_wire.assurance import unmet
from session_wire.ext_authz import attribute_context_pb2, external_auth_pb2, external_auth_pb2_grpc
from session_wire.ext_authz import http_status_pb2 as http_status
from session_wire.v1 import session_pb2 as pb

from tests.conftest import free_port
from tests.gateway.conftest import (
    Gateway,
    GatewayService,
    caddy_config,
    end_process,
    nginx_config,
    require_binary,
    wait_for_port,
)

PAYMENT = "max_age=300&acr_values=mfa"
"""The payment route's requirement: MFA within five minutes (docs/gateways.md)."""
STEP_UP_CHALLENGE = (
    'Bearer error="insufficient_user_authentication", '
    'error_description="A different authentication level is required", acr_values="mfa", max_age="300"'
)
TOO_OLD_CHALLENGE = (
    'Bearer error="insufficient_user_authentication", '
    'error_description="More recent authentication is required", acr_values="mfa", max_age="300"'
)
SCOPE_CHALLENGE = (
    'Bearer error="insufficient_scope", '
    'error_description="The access token lacks a scope this resource requires", scope="orders:write"'
)


def _at(seconds: float) -> Timestamp:
    ts = Timestamp()
    ts.FromSeconds(int(seconds))
    return ts


def nginx_step_up_locations(auth_port: int, upstream_port: int) -> str:
    """The step-up recipe of docs/gateways.md: a payment route whose sub-request names its
    requirement in the forward-auth URL; a refusal's WWW-Authenticate reaches the client."""
    return f"""
    location /pay {{
      auth_request /_session_auth_payment;
      # nginx passes a 401's WWW-Authenticate on by itself; a 403's needs these two lines.
      auth_request_set $auth_challenge $upstream_http_www_authenticate;
      error_page 403 = @forbidden;
      proxy_pass http://127.0.0.1:{upstream_port};
    }}
    location /orders {{
      auth_request /_session_auth_orders;
      auth_request_set $auth_challenge $upstream_http_www_authenticate;
      error_page 403 = @forbidden;
      proxy_pass http://127.0.0.1:{upstream_port};
    }}
    location @forbidden {{
      add_header WWW-Authenticate $auth_challenge always;
      return 403;
    }}
    location = /_session_auth_payment {{
      internal;
      proxy_pass http://127.0.0.1:{auth_port}/auth?{PAYMENT};
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
    }}
    location = /_session_auth_orders {{
      internal;
      proxy_pass http://127.0.0.1:{auth_port}/auth?scope=orders:write;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
    }}
"""


def caddy_step_up_routes(auth_port: int, upstream_port: int) -> str:
    """Caddy's step-up recipe: forward_auth copies a refusal (status and headers) as it is."""
    routes = ""
    for path, query in (("/pay*", PAYMENT), ("/orders*", "scope=orders:write")):
        routes += f"""\troute {path} {{
\t\tforward_auth 127.0.0.1:{auth_port} {{
\t\t\turi /auth?{query}
\t\t}}
\t\treverse_proxy 127.0.0.1:{upstream_port}
\t}}
"""
    return routes


@contextlib.contextmanager
def step_up_gateway(name: str, folder: Path, auth_port: int, upstream_port: int) -> Iterator[Gateway]:
    """nginx or Caddy with the documented recipe plus the step-up routes."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = folder / "gateway.log"
    env = dict(os.environ)
    if name == "nginx":
        config = nginx_config(folder, port, auth_port, upstream_port)
        marker = "    location = /_session_auth {"
        config = config.replace(marker, nginx_step_up_locations(auth_port, upstream_port) + marker)
        (folder / "nginx.conf").write_text(config)
        args = [require_binary("nginx", "nginx-light"), "-p", str(folder), "-c", str(folder / "nginx.conf")]
    else:
        config = caddy_config(folder, port, auth_port, upstream_port)
        marker = "\t# route keeps this order"
        config = config.replace(marker, caddy_step_up_routes(auth_port, upstream_port) + marker)
        (folder / "Caddyfile").write_text(config)
        args = [require_binary("caddy", "caddy"), "run", "--config", str(folder / "Caddyfile")]
        args += ["--adapter", "caddyfile"]
        env.update(
            HOME=str(folder), XDG_CONFIG_HOME=str(folder / "config"), XDG_DATA_HOME=str(folder / "data")
        )
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_port(port, process, log)
        yield Gateway(name, port, process)
    finally:
        end_process(process)


@pytest.fixture(scope="module", params=["nginx", "caddy"])
def step_up(
    request: pytest.FixtureRequest,
    gateway_service: GatewayService,
    upstream_port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    name: str = request.param
    with step_up_gateway(
        name,
        tmp_path_factory.mktemp(f"{name}-step-up"),
        gateway_service.service.forward_auth_port,
        upstream_port,
    ) as g:
        yield g


async def _get(url: str, token: str) -> tuple[int, list[str]]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.get(url, headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        await response.read()
        return response.status, response.headers.getall("WWW-Authenticate", [])


async def test_a_payment_route_challenges_a_password_login_and_passes_a_fresh_mfa_login(
    step_up: Gateway, gateway_service: GatewayService
) -> None:
    password = await gateway_service.login("alice", acr="pwd", amr=["pwd"])
    assert await _get(f"{step_up.url}/pay", password.access_token) == (401, [STEP_UP_CHALLENGE])
    # Other routes require nothing more.
    assert (await _get(f"{step_up.url}/cart", password.access_token))[0] == 200
    old_mfa = await gateway_service.login(
        "alice", acr="mfa", amr=["pwd", "otp"], auth_time=_at(time.time() - 900)
    )
    assert await _get(f"{step_up.url}/pay", old_mfa.access_token) == (401, [TOO_OLD_CHALLENGE])
    # The client's answer to the challenge: the user logs in again, Reauthenticate.
    again = await gateway_service.stub.Reauthenticate(
        pb.ReauthenticateRequest(session_id=password.session.session_id, acr="mfa", amr=["pwd", "otp"])
    )
    assert (await _get(f"{step_up.url}/pay", again.access_token))[0] == 200
    # The old id's token is dead everywhere, not merely weak.
    status, challenge = await _get(f"{step_up.url}/cart", password.access_token)
    assert status == 401 and 'error="invalid_token"' in challenge[0]


async def test_a_route_requiring_a_scope_answers_403_insufficient_scope(
    step_up: Gateway, gateway_service: GatewayService
) -> None:
    reader = await gateway_service.login("alice", scopes=["orders:read"])
    assert await _get(f"{step_up.url}/orders", reader.access_token) == (403, [SCOPE_CHALLENGE])
    writer = await gateway_service.login("alice", scopes=["orders:read", "orders:write"])
    assert (await _get(f"{step_up.url}/orders", writer.access_token))[0] == 200


async def test_forward_auth_refuses_a_malformed_requirement_with_500(gateway_service: GatewayService) -> None:
    created = await gateway_service.login("alice", acr="mfa")
    for query in ("max_age=soon", "max_age=1&max_age=2", 'acr_values=a"b', "scope=", "acr_values=a%20%20b"):
        status, _ = await _get(f"{gateway_service.forward_auth_url}?{query}", created.access_token)
        assert status == 500, query


def _check(token: str, extensions: dict[str, str]) -> external_auth_pb2.CheckRequest:
    http = attribute_context_pb2.AttributeContext.HttpRequest(
        method="POST", path="/pay", host="shop.example", headers={"authorization": f"Bearer {token}"}
    )
    return external_auth_pb2.CheckRequest(
        attributes=attribute_context_pb2.AttributeContext(
            request=attribute_context_pb2.AttributeContext.Request(http=http), context_extensions=extensions
        )
    )


@pytest.fixture
async def envoy(gateway_service: GatewayService) -> AsyncIterator[Any]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway_service.service.port}") as channel:
        yield external_auth_pb2_grpc.AuthorizationStub(channel)


def _denied(response: external_auth_pb2.CheckResponse) -> tuple[int, int, dict[str, str]]:
    headers = {o.header.key: o.header.value for o in response.denied_response.headers}
    return response.status.code, response.denied_response.status.code, headers


async def test_envoy_check_reads_the_requirement_from_context_extensions(
    envoy: Any, gateway_service: GatewayService
) -> None:
    payment = {"max_age": "300", "acr_values": "mfa"}
    password = await gateway_service.login("alice", acr="pwd", scopes=["orders:read"])
    code, status, headers = _denied(await envoy.Check(_check(password.access_token, payment)))
    assert (code, status) == (grpc.StatusCode.UNAUTHENTICATED.value[0], http_status.Unauthorized)
    assert headers["www-authenticate"] == STEP_UP_CHALLENGE
    code, status, headers = _denied(
        await envoy.Check(_check(password.access_token, {"scope": "orders:write"}))
    )
    assert (code, status) == (grpc.StatusCode.PERMISSION_DENIED.value[0], http_status.Forbidden)
    assert headers["www-authenticate"] == SCOPE_CHALLENGE
    mfa = await gateway_service.login("alice", acr="mfa", amr=["hwk"])
    assert (await envoy.Check(_check(mfa.access_token, payment))).status.code == 0
    code, status, _ = _denied(await envoy.Check(_check(mfa.access_token, {"max_age": "-1"})))
    assert status == http_status.InternalServerError and code != 0


async def test_the_verifier_raises_a_typed_error_carrying_the_challenge(
    gateway_service: GatewayService,
) -> None:
    async with SessionClient(f"127.0.0.1:{gateway_service.service.port}", insecure=True) as client:
        verifier = Verifier(client)
        await verifier.start()
        try:
            password = await gateway_service.login("alice", acr="pwd", scopes=["orders:read"])
            payment = Requirement(max_age=300, acr_values=("mfa",))
            with pytest.raises(InsufficientUserAuthentication) as raised:
                verifier.verify(password.access_token, requirement=payment)
            assert raised.value.challenge.status == 401
            assert raised.value.challenge.www_authenticate == STEP_UP_CHALLENGE
            with pytest.raises(InsufficientScope) as scoped:
                await verifier.verify_async(
                    password.access_token, requirement=Requirement(scopes=("orders:write",))
                )
            assert (scoped.value.challenge.status, scoped.value.challenge.www_authenticate) == (
                403,
                SCOPE_CHALLENGE,
            )
            mfa = await gateway_service.login("alice", acr="mfa")
            assert verifier.verify(mfa.access_token, requirement=payment).subject == "alice"
        finally:
            await verifier.close()


def _values(given: dict[str, list[str]], name: str) -> list[str]:
    return given.get(name, [])


def test_a_requirement_is_parsed_strictly_and_unmet_the_rfc_9470_way() -> None:
    query = {"max_age": ["300"], "acr_values": ["mfa hwk"], "scope": ["a b"]}
    parsed = Requirement.parse(lambda name: query.get(name, []))
    assert parsed == Requirement(300, ("mfa", "hwk"), ("a", "b"))
    malformed: list[dict[str, list[str]]] = [
        {"max_age": ["-1"]},
        {"max_age": ["1e3"]},
        {"acr_values": [""]},
        {"scope": ["a\\b"]},
    ]
    for bad in malformed:
        with pytest.raises(ValueError):
            Requirement.parse(functools.partial(_values, bad))
    now = time.time()
    assert unmet(parsed, acr="hwk", auth_time=int(now) - 10, scope="a b c", now=now) is None
    # No auth_time meets no max_age.
    missing = unmet(Requirement(max_age=300), acr="", auth_time=0, scope="", now=now)
    assert missing is not None and missing.www_authenticate.endswith('max_age="300"')
    dpop = unmet(
        Requirement(acr_values=("mfa",)), acr="", auth_time=int(now), scope="", now=now, scheme="DPoP"
    )
    assert dpop is not None and dpop.www_authenticate.startswith(
        'DPoP error="insufficient_user_authentication"'
    )


def test_the_step_up_recipe_of_the_docs_is_the_one_tested() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "gateways.md").read_text()
    [recipe] = [b for b in re.findall(r"```text\n(.*?)```", docs, re.S) if "location /pay" in b]
    tested = {line.strip() for line in nginx_step_up_locations(1, 2).splitlines()}
    hosts = ("backend", "session-service:")
    lines = [
        line.strip()
        for line in recipe.splitlines()
        if line.strip() not in ("", "}") and not any(h in line for h in hosts)
    ]
    assert [line for line in lines if line not in tested] == []
    assert f"/auth?{PAYMENT}" in recipe


async def test_forward_auth_records_the_client_behind_the_proxy_as_the_last_client(
    step_up: Gateway, gateway_service: GatewayService
) -> None:
    created = await gateway_service.login("alice")
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.get(
            f"{step_up.url}/cart",
            headers={"Authorization": f"Bearer {created.access_token}", "User-Agent": "curl/8.5.0"},
        ) as response,
    ):
        assert response.status == 200
    got = await gateway_service.stub.Get(pb.GetRequest(session_id=created.session.session_id))
    # SESSION_GATEWAY_TRUSTED_PROXIES=0: the direct peer, here the proxy on loopback.
    assert (got.session.last_client.ip, got.session.last_client.user_agent) == ("127.0.0.1", "curl/8.5.0")
