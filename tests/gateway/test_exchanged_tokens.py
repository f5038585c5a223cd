"""Exchanged tokens at the gateway doors: the route names its audience (forward-auth's URL
query, Envoy's per-route context_extensions), never the client; a token bound to a
client certificate passes only with the certificate the proxy verified (forward-auth's
configured header, Envoy's source.certificate attribute); revoking the session ends the
exchanged tokens at both doors."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import ssl
import subprocess
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from google.rpc import code_pb2
from session_wire.ext_authz import attribute_context_pb2, external_auth_pb2, external_auth_pb2_grpc
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

from session_service.store.embedded import RedisServerProcess
from session_service.tokens.keyring import Keyring
from tests.certs import CertificateAuthority, Issued
from tests.conftest import free_port
from tests.gateway.conftest import (
    GatewayService,
    end_process,
    require_binary,
    start_gateway_service,
    stop_gateway_service,
    wait_for_port,
    wait_until_local,
)

ORDERS = "spiffe://cluster.local/ns/shop/sa/orders"
OTHER = "spiffe://cluster.local/ns/shop/sa/other"
CERT_HEADER = "x-client-cert"


@dataclass
class Delegation:
    """A service with forward-auth and mTLS gRPC, and what the tests call it with."""

    gateway: GatewayService
    stub: Any
    envoy: Any
    ca: CertificateAuthority
    orders: Issued


@pytest.fixture(scope="module")
async def delegation(
    redis_server: RedisServerProcess, keyring: Keyring, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Delegation]:
    folder: Path = tmp_path_factory.mktemp("delegation")
    ca = CertificateAuthority()
    cert_file, key_file = ca.issue_server().write(folder, "server")
    policy = folder / "policy.json"
    callers = {ORDERS: {"rpcs": ["*"], "exchange": {"audiences": ["*"], "scopes": ["*"]}}}
    policy.write_text(json.dumps({"callers": callers}))
    started = await start_gateway_service(
        redis_server.url,
        keyring,
        tls_cert_file=str(cert_file),
        tls_key_file=str(key_file),
        tls_client_ca_file=str(ca.write(folder)),
        authz_policy_file=str(policy),
        allow_unauthenticated_callers=False,
        forward_auth_client_cert_header=CERT_HEADER,
    )
    orders = ca.issue_client(uri=ORDERS)
    credentials = grpc.ssl_channel_credentials(ca.cert_pem, orders.key_pem, orders.cert_pem)
    async with grpc.aio.secure_channel(f"localhost:{started.service.port}", credentials) as channel:
        await wait_until_local(started.service)
        yield Delegation(
            started,
            session_pb2_grpc.SessionServiceStub(channel),
            external_auth_pb2_grpc.AuthorizationStub(channel),
            ca,
            orders,
        )
    await stop_gateway_service(started)


async def _exchanged(d: Delegation, *, bind: bool = False) -> tuple[pb.CreateResponse, str]:
    created = await d.stub.Create(pb.CreateRequest(user_id="alice", scopes=["orders:read", "profile"]))
    exchanged = await d.stub.Exchange(
        pb.ExchangeRequest(
            subject_token=created.access_token,
            audience="orders-api",
            scopes=["orders:read"],
            bind_to_caller_certificate=bind,
        )
    )
    return created, exchanged.access_token


async def _forward_auth(d: Delegation, token: str, aud: str | None, cert: str | None = None) -> int:
    url = d.gateway.forward_auth_url + (f"?aud={urllib.parse.quote(aud)}" if aud is not None else "")
    headers = {"Authorization": f"Bearer {token}", "X-Aud": "orders-api"}
    if cert is not None:
        headers[CERT_HEADER] = cert
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.get(url, headers=headers) as response,
    ):
        return response.status


async def _check(d: Delegation, token: str, aud: str | None, cert: str = "") -> int:
    http = attribute_context_pb2.AttributeContext.HttpRequest(
        method="GET",
        path="/orders",
        host="orders.example",
        scheme="https",
        headers={"authorization": f"Bearer {token}", "aud": "orders-api"},
    )
    attributes = attribute_context_pb2.AttributeContext(
        request=attribute_context_pb2.AttributeContext.Request(http=http),
        source=attribute_context_pb2.AttributeContext.Peer(certificate=cert),
    )
    if aud is not None:
        attributes.context_extensions["aud"] = aud
    response = await d.envoy.Check(external_auth_pb2.CheckRequest(attributes=attributes))
    return int(response.status.code)


def _nginx_escaped(cert: Issued) -> str:
    """The certificate as nginx's $ssl_client_escaped_cert and Envoy's source.certificate
    carry it: PEM, URL-escaped."""
    return urllib.parse.quote(cert.cert_pem.decode(), safe="")


def _caddy_der(cert: Issued) -> str:
    """The certificate as Caddy's {http.request.tls.client.certificate_der_base64} carries it."""
    return base64.b64encode(cert.cert.public_bytes(Encoding.DER)).decode()


async def test_a_route_accepts_only_tokens_for_its_audience(delegation: Delegation) -> None:
    created, exchanged = await _exchanged(delegation)
    assert await _forward_auth(delegation, exchanged, "orders-api") == 200
    assert await _check(delegation, exchanged, "orders-api") == code_pb2.OK
    # Without an aud the route is the service's own audience; a header saying otherwise
    # (X-Aud, aud) is the client's and changes nothing.
    for aud in (None, "payments-api"):
        assert await _forward_auth(delegation, exchanged, aud) == 401
        assert await _check(delegation, exchanged, aud) == code_pb2.UNAUTHENTICATED
    assert await _forward_auth(delegation, created.access_token, None) == 200
    assert await _forward_auth(delegation, created.access_token, "orders-api") == 401
    assert await _check(delegation, created.access_token, "orders-api") == code_pb2.UNAUTHENTICATED


async def test_a_certificate_bound_token_passes_only_with_its_certificate(delegation: Delegation) -> None:
    _, bound = await _exchanged(delegation, bind=True)
    other = delegation.ca.issue_client(uri=OTHER)
    for cert in (_nginx_escaped(delegation.orders), _caddy_der(delegation.orders)):
        assert await _forward_auth(delegation, bound, "orders-api", cert) == 200
    assert await _check(delegation, bound, "orders-api", _nginx_escaped(delegation.orders)) == code_pb2.OK
    for wrong in (None, _nginx_escaped(other), _caddy_der(other), "garbage"):
        assert await _forward_auth(delegation, bound, "orders-api", wrong) == 401
    for envoy_cert in ("", _nginx_escaped(other)):
        assert await _check(delegation, bound, "orders-api", envoy_cert) == code_pb2.UNAUTHENTICATED


async def test_revoking_the_session_ends_exchanged_tokens_at_both_doors(delegation: Delegation) -> None:
    created, exchanged = await _exchanged(delegation)
    assert await _forward_auth(delegation, exchanged, "orders-api") == 200
    await delegation.stub.Revoke(pb.RevokeRequest(session_id=created.session.session_id))
    # Local mode follows the revocation feed: within the revocation delay, both doors refuse.
    for _ in range(100):
        if await _forward_auth(delegation, exchanged, "orders-api") == 401:
            break
        await asyncio.sleep(0.05)
    assert await _forward_auth(delegation, exchanged, "orders-api") == 401
    assert await _check(delegation, exchanged, "orders-api") == code_pb2.UNAUTHENTICATED


def _nginx_mtls_config(folder: Path, port: int, auth_port: int, upstream_port: int) -> str:
    """nginx terminating mTLS, asking forward-auth for the orders-api route with the client
    certificate it verified: the recipe docs/gateways.md shows."""
    temp = "\n".join(
        f"  {kind}_temp_path {folder}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
daemon off;
master_process off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
{temp}
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {folder}/server.crt;
    ssl_certificate_key {folder}/server.key;
    ssl_client_certificate {folder}/ca.crt;
    ssl_verify_client optional;
    location / {{
      auth_request /_session_auth;
      proxy_pass http://127.0.0.1:{upstream_port};
    }}
    location = /_session_auth {{
      internal;
      proxy_pass http://127.0.0.1:{auth_port}/auth?aud=orders-api;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Client-Cert $ssl_client_escaped_cert;
    }}
  }}
}}
"""


def _caddy_mtls_config(folder: Path, port: int, auth_port: int, upstream_port: int) -> str:
    """Caddy terminating mTLS, the same route: the recipe docs/gateways.md shows."""
    return f"""{{
\tadmin off
\tauto_https off
\tstorage file_system {folder}/storage
}}
https://localhost:{port} {{
\tbind 127.0.0.1
\ttls {folder}/server.crt {folder}/server.key {{
\t\tclient_auth {{
\t\t\tmode verify_if_given
\t\t\ttrusted_ca_cert_file {folder}/ca.crt
\t\t}}
\t}}
\troute {{
\t\tforward_auth 127.0.0.1:{auth_port} {{
\t\t\turi /auth?aud=orders-api
\t\t\theader_up X-Client-Cert {{http.request.tls.client.certificate_der_base64}}
\t\t}}
\t\treverse_proxy 127.0.0.1:{upstream_port}
\t}}
}}
"""


@pytest.fixture(scope="module", params=["nginx", "caddy"])
def mtls_gateway(
    request: pytest.FixtureRequest,
    delegation: Delegation,
    upstream_port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[int, Path]]:
    """A real nginx or Caddy terminating mTLS in front of the echo upstream; its port and
    the folder holding the CA."""
    name: str = request.param
    folder = tmp_path_factory.mktemp(f"{name}-mtls")
    server = delegation.ca.issue_server()
    server.write(folder, "server")
    delegation.ca.write(folder)
    port = free_port()
    auth_port = delegation.gateway.service.forward_auth_port
    env = dict(os.environ)
    if name == "nginx":
        binary = require_binary("nginx", "nginx-light")
        (folder / "nginx.conf").write_text(_nginx_mtls_config(folder, port, auth_port, upstream_port))
        args = [binary, "-p", str(folder), "-c", str(folder / "nginx.conf")]
    else:
        binary = require_binary("caddy", "caddy")
        (folder / "Caddyfile").write_text(_caddy_mtls_config(folder, port, auth_port, upstream_port))
        args = [binary, "run", "--config", str(folder / "Caddyfile"), "--adapter", "caddyfile"]
        env.update(
            HOME=str(folder), XDG_CONFIG_HOME=str(folder / "config"), XDG_DATA_HOME=str(folder / "data")
        )
    log = folder / "gateway.log"
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_port(port, process, log)
        yield port, folder
    finally:
        end_process(process)


async def _through(
    port: int, folder: Path, token: str, client: Issued | None, spoof: str | None = None
) -> int:
    context = ssl.create_default_context(cafile=str(folder / "ca.crt"))
    if client is not None:
        cert, key = client.write(folder, f"client-{client.serial_number}")
        context.load_cert_chain(cert, key)
    headers = {"Authorization": f"Bearer {token}"}
    if spoof is not None:
        headers[CERT_HEADER] = spoof
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.get(f"https://localhost:{port}/orders", headers=headers, ssl=context) as response,
    ):
        return response.status


async def test_real_gateways_pass_a_bound_token_only_from_its_certificate_holder(
    delegation: Delegation, mtls_gateway: tuple[int, Path]
) -> None:
    port, folder = mtls_gateway
    created, bound = await _exchanged(delegation, bind=True)
    other = delegation.ca.issue_client(uri=OTHER)
    assert await _through(port, folder, bound, delegation.orders) == 200
    assert await _through(port, folder, bound, other) == 401
    # A client without a certificate cannot supply one in the header: the proxy sets it.
    assert await _through(port, folder, bound, None, spoof=_nginx_escaped(delegation.orders)) == 401
    assert await _through(port, folder, bound, other, spoof=_nginx_escaped(delegation.orders)) == 401
    # The route is orders-api's: the user's own token does not pass it.
    assert await _through(port, folder, created.access_token, delegation.orders) == 401
