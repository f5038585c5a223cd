"""Redis over TLS (server certificate verified against our CA) and as an ACL user.

Each test starts its own redis-server on a free loopback port and stops it by PID.
A service that cannot authenticate Redis, or cannot authenticate to it, must answer
UNAVAILABLE (STORE_UNAVAILABLE) and report NOT_SERVING, never INTERNAL.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc
from redis.backoff import NoBackoff
from redis.retry import Retry
from session_wire.v1 import session_pb2 as pb

from session_service.store.embedded import RedisServerProcess
from tests.certs import CertificateAuthority
from tests.conftest import RedisTarget, Running, ServiceFactory, expect_error, free_port

SERVICE = "session.v1.SessionService"
PASSWORD = "s3cret"


@pytest.fixture(scope="session")
def redis_target(redis_server: RedisServerProcess) -> RedisTarget:
    """Overrides the standalone/cluster parametrization: these tests bring their own Redis."""
    return RedisTarget("standalone", redis_server.url)


@contextlib.contextmanager
def redis_process(tmp: Path, args: list[str], client: Callable[[], redis.Redis]) -> Iterator[None]:
    """redis-server with ``args``, up once ``client()`` gets PONG; stopped by its PID on exit."""
    log = tmp / "redis.log"
    base = ["redis-server", "--bind", "127.0.0.1", "--dir", str(tmp), "--save", "", "--appendonly", "no"]
    process = subprocess.Popen([*base, *args, "--logfile", str(log)], stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while True:
            assert process.poll() is None, f"redis-server exited: {log.read_text(errors='replace')}"
            conn = client()
            try:
                if conn.ping():
                    break
            except redis.exceptions.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not answer"
                time.sleep(0.02)
            finally:
                conn.close()
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _create_and_get(r: Running) -> str:
    """Creates a session, reads it back; its id."""
    created = await r.stub.Create(pb.CreateRequest(user_id="alice"), timeout=5)
    sid: str = created.session.session_id
    got = await r.stub.Get(pb.GetRequest(session_id=sid), timeout=5)
    assert got.session.user_id == "alice"
    return sid


async def _assert_store_unavailable(r: Running, sid: str) -> None:
    """Create and Get fail UNAVAILABLE/STORE_UNAVAILABLE, and readiness is NOT_SERVING."""
    async with expect_error(grpc.StatusCode.UNAVAILABLE, "STORE_UNAVAILABLE"):
        await r.stub.Create(pb.CreateRequest(user_id="mallory"), timeout=3)
    async with expect_error(grpc.StatusCode.UNAVAILABLE, "STORE_UNAVAILABLE"):
        await r.stub.Get(pb.GetRequest(session_id=sid), timeout=3)
    health = health_pb2_grpc.HealthStub(r.channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=2)
    assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING


# Fail fast: these services can never reach Redis, so retrying only makes the test slow.
_FAST_FAILURE: dict[str, Any] = {"redis_retry_timeout": 0.3, "redis_timeout": 0.5}


async def test_tls_verifies_the_server_certificate(start_service: ServiceFactory, tmp_path: Path) -> None:
    ca_file, other_ca_file = tmp_path / "ca.pem", tmp_path / "other-ca.pem"
    cert_file, key_file = tmp_path / "redis.pem", tmp_path / "redis.key"
    ca = CertificateAuthority("redis test CA")
    ca.write(tmp_path, ca_file.name)
    CertificateAuthority("some other CA").write(tmp_path, other_ca_file.name)
    server = ca.issue_server(("127.0.0.1",))
    cert_file.write_bytes(server.cert_pem)
    key_file.write_bytes(server.key_pem)
    port = free_port()
    tls = [
        *("--port", "0", "--tls-port", str(port)),
        *("--tls-cert-file", str(cert_file), "--tls-key-file", str(key_file)),
        *("--tls-ca-cert-file", str(ca_file), "--tls-auth-clients", "no"),
    ]

    def client() -> redis.Redis:
        return redis.Redis("127.0.0.1", port, ssl=True, ssl_ca_certs=str(ca_file), socket_timeout=1)

    url = f"rediss://127.0.0.1:{port}"
    with redis_process(tmp_path, tls, client):
        good = await start_service(redis_url=url, redis_mode="standalone", redis_tls_ca_file=str(ca_file))
        sid = await _create_and_get(good)

        wrong_ca = await start_service(
            redis_url=url, redis_mode="standalone", redis_tls_ca_file=str(other_ca_file), **_FAST_FAILURE
        )
        await _assert_store_unavailable(wrong_ca, sid)


async def test_acl_user_with_password_file(start_service: ServiceFactory, tmp_path: Path) -> None:
    port = free_port()
    acl = ["--port", str(port), "--user", "default", "off", "--user", "sessions", "on", f">{PASSWORD}"]
    acl += ["~*", "&*", "+@all"]

    def client() -> redis.Redis:
        return redis.Redis("127.0.0.1", port, username="sessions", password=PASSWORD, socket_timeout=1)

    password_file, wrong_file = tmp_path / "password", tmp_path / "wrong"
    password_file.write_text(PASSWORD + "\n")
    wrong_file.write_text("not-the-password\n")
    url = f"redis://sessions@127.0.0.1:{port}/0"
    with redis_process(tmp_path, acl, client):
        # The default user is off: nothing gets in without the ACL user's password.
        anonymous = redis.Redis("127.0.0.1", port, socket_timeout=1, retry=Retry(NoBackoff(), 0))
        with pytest.raises(redis.exceptions.AuthenticationError):
            anonymous.ping()
        anonymous.close()

        good = await start_service(
            redis_url=url, redis_mode="standalone", redis_password_file=str(password_file)
        )
        sid = await _create_and_get(good)

        wrong = await start_service(
            redis_url=url, redis_mode="standalone", redis_password_file=str(wrong_file), **_FAST_FAILURE
        )
        await _assert_store_unavailable(wrong, sid)
