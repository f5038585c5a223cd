"""Redis over TLS (server certificate verified against our CA) and as an ACL user.

Each test starts its own redis-server on a free loopback port and stops it by PID.
A service that cannot authenticate Redis, or cannot authenticate to it, must answer
UNAVAILABLE (STORE_UNAVAILABLE) and report NOT_SERVING, never INTERNAL.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc
from redis.backoff import NoBackoff
from redis.retry import Retry
from session_wire.v1 import session_pb2 as pb

from session_service.store.embedded import RedisServerProcess
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


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_ca(path: Path, cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _write_server_cert(
    cert_path: Path, key_path: Path, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("redis"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


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
    ca, ca_key = _write_ca(ca_file, "redis test CA")
    _write_ca(other_ca_file, "some other CA")
    _write_server_cert(cert_file, key_file, ca, ca_key)
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
