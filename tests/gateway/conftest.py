"""Fixtures for the gateway doors: a real nginx (auth_request) and a real Caddy
(forward_auth) in front of an aiohttp upstream that echoes the headers it receives, all
on loopback ports, asking our forward-auth endpoint; the service on the single test Redis.

nginx and Caddy come from Debian (`make install` installs `nginx-light caddy`); when one
is missing the tests fail, naming the package, rather than skip: a skipped gateway test
would prove nothing while looking green.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiohttp import web
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

from session_service.app import Service, start
from session_service.config import Settings
from session_service.store.embedded import RedisServerProcess
from session_service.tokens.keyring import Keyring
from tests.conftest import RedisTarget, free_port, refresh_token_keys_file, stop_within

IDENTITY_HEADERS = ("x-user-id", "x-session-id", "x-scopes", "x-client-id")
START_TIMEOUT_S = 10.0


@pytest.fixture(scope="session")
def redis_target(redis_server: RedisServerProcess) -> RedisTarget:
    """The doors do not depend on the Redis topology: one standalone Redis."""
    return RedisTarget("standalone", redis_server.url)


def require_binary(name: str, package: str) -> str:
    """The binary's path; fails (never skips) when it is not installed."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    if path is None:
        pytest.fail(f"{name} is not installed: run `make install` (apt-get install -y {package})")
    return path


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Returns once something accepts connections on the port; fails after START_TIMEOUT_S."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args!r} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    pytest.fail(f"nothing listens on {port} after {START_TIMEOUT_S}s:\n{log.read_text()[-3000:]}")


def end_process(process: subprocess.Popen[bytes]) -> None:
    """Ends a process we started, by its PID: SIGTERM, then SIGKILL after 5 s."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(5)


@dataclass
class Gateway:
    """A real reverse proxy in front of the echo upstream, asking forward-auth."""

    name: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """The proxy's base URL."""
        return f"http://127.0.0.1:{self.port}"


def nginx_config(folder: Path, port: int, auth_port: int, upstream_port: int) -> str:
    """nginx with auth_request: the recipe docs/gateways.md shows, on loopback ports
    (tests/unit/test_docs.py holds the two together)."""
    temp = "\n".join(
        f"  {kind}_temp_path {folder}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    set_identity = "\n".join(
        f"      auth_request_set ${h.replace('-', '_')} $upstream_http_{h.replace('-', '_')};\n"
        f"      proxy_set_header {h} ${h.replace('-', '_')};"
        for h in IDENTITY_HEADERS
    )
    return f"""
daemon off;
# One process, as the user who runs the tests: no privilege switching in a test.
master_process off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
{temp}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      auth_request /_session_auth;
      # Identity headers come from forward-auth only: proxy_set_header replaces whatever
      # the client sent (an empty value drops the header).
{set_identity}
      # A refusal's DPoP-Nonce (server nonces on) reaches the client too.
      auth_request_set $dpop_nonce $upstream_http_dpop_nonce;
      add_header DPoP-Nonce $dpop_nonce always;
      proxy_pass http://127.0.0.1:{upstream_port};
    }}
    location = /_session_auth {{
      internal;
      proxy_pass http://127.0.0.1:{auth_port}/auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      # The client's request, for DPoP proofs; set here, so no client-sent copy gets through.
      proxy_set_header X-Forwarded-Method $request_method;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Uri $request_uri;
    }}
  }}
}}
"""


def caddy_config(folder: Path, port: int, auth_port: int, upstream_port: int) -> str:
    """Caddy with forward_auth: the recipe docs/gateways.md shows, on loopback ports
    (tests/unit/test_docs.py holds the two together)."""
    strip = "\n".join(f"\t\trequest_header -{h}" for h in IDENTITY_HEADERS)
    return f"""{{
\tadmin off
\tauto_https off
\tstorage file_system {folder}/storage
}}
http://127.0.0.1:{port} {{
\t# route keeps this order: strip client-sent identity headers, ask, then proxy.
\troute {{
{strip}
\t\tforward_auth 127.0.0.1:{auth_port} {{
\t\t\turi /auth
\t\t\tcopy_headers {" ".join(IDENTITY_HEADERS)}
\t\t}}
\t\treverse_proxy 127.0.0.1:{upstream_port}
\t}}
}}
"""


@contextlib.contextmanager
def run_gateway(name: str, folder: Path, auth_port: int, upstream_port: int) -> Iterator[Gateway]:
    """Starts nginx or Caddy from a config in ``folder``; ends it by PID afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = folder / "gateway.log"
    env = dict(os.environ)
    if name == "nginx":
        binary = require_binary("nginx", "nginx-light")
        (folder / "nginx.conf").write_text(nginx_config(folder, port, auth_port, upstream_port))
        args = [binary, "-p", str(folder), "-c", str(folder / "nginx.conf")]
    else:
        binary = require_binary("caddy", "caddy")
        (folder / "Caddyfile").write_text(caddy_config(folder, port, auth_port, upstream_port))
        args = [binary, "run", "--config", str(folder / "Caddyfile"), "--adapter", "caddyfile"]
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


async def echo_headers(request: web.Request) -> web.Response:
    """The upstream: answers with the headers it received, names lower-cased."""
    return web.json_response({k.lower(): v for k, v in request.headers.items()})


@pytest.fixture(scope="module")
async def upstream_port() -> AsyncIterator[int]:
    """An aiohttp upstream on a loopback port that echoes the headers it receives."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo_headers)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield int(runner.addresses[0][1])
    await runner.cleanup()


@dataclass
class GatewayService:
    """A started service with forward-auth on, and a client stub."""

    service: Service
    channel: grpc.aio.Channel
    stub: Any

    @property
    def forward_auth_url(self) -> str:
        """The /auth endpoint."""
        return f"http://127.0.0.1:{self.service.forward_auth_port}/auth"

    async def login(self, user_id: str = "alice", **fields: Any) -> pb.CreateResponse:
        """Creates a session; its access token is what a browser would present."""
        created: pb.CreateResponse = await self.stub.Create(pb.CreateRequest(user_id=user_id, **fields))
        return created

    async def revoke(self, session_id: str) -> None:
        """Ends a session."""
        await self.stub.Revoke(pb.RevokeRequest(session_id=session_id))


async def start_gateway_service(redis_url: str, keyring: Keyring, **overrides: Any) -> GatewayService:
    """Starts a service with forward-auth on a free port; the caller stops it."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "redis_url": redis_url,
        "redis_prefix": f"gw{free_port()}",
        "health_interval": 0.5,
        "redis_timeout": 1.0,
        "metrics_port": 0,
        "forward_auth_port": free_port(),
        "refresh_token_keys_file": refresh_token_keys_file(),
        "allow_unauthenticated_callers": True,  # plaintext test servers, a real Redis
    }
    values.update(overrides)
    service = await start(Settings(**values), keyring=keyring)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.port}")
    return GatewayService(service, channel, session_pb2_grpc.SessionServiceStub(channel))


async def stop_gateway_service(started: GatewayService) -> None:
    """Stops what :func:`start_gateway_service` started."""
    await started.channel.close()
    await stop_within(started.service, 20)


@pytest.fixture(scope="module")
async def gateway_service(
    redis_server: RedisServerProcess, keyring: Keyring
) -> AsyncIterator[GatewayService]:
    """One service in local mode for the module, waited for until its revocation feed caught up."""
    started = await start_gateway_service(redis_server.url, keyring)
    await wait_until_local(started.service)
    yield started
    await stop_gateway_service(started)


async def wait_until_local(service: Service) -> None:
    """Returns once the gateway check answers from memory (its feed has caught up)."""
    gateway = service.gateway
    assert gateway is not None and gateway.revoked is not None
    await gateway.check("not-a-token")  # the first check starts following the feed
    async with asyncio.timeout(START_TIMEOUT_S):
        await gateway.revoked.caught_up.wait()


@pytest.fixture(scope="module", params=["nginx", "caddy"])
def gateway(
    request: pytest.FixtureRequest,
    gateway_service: GatewayService,
    upstream_port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    """A real nginx or Caddy in front of the echo upstream, asking the service's /auth."""
    name: str = request.param
    folder = tmp_path_factory.mktemp(name)
    with run_gateway(name, folder, gateway_service.service.forward_auth_port, upstream_port) as g:
        yield g


def gateway_checks(gateway: GatewayService, door: str, decision: str) -> float:
    """The service's gateway_checks_total for ``door`` and ``decision`` (0 before the first)."""
    telemetry = gateway.service.telemetry
    assert telemetry is not None
    value = telemetry.metrics.registry.get_sample_value(
        "session_service_gateway_checks_total", {"door": door, "decision": decision}
    )
    return value or 0.0
