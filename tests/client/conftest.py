"""Fixtures for the client SDK: clients and verifiers on real channels to real services.

The client's behaviour does not depend on the Redis topology (tests/integration runs the
server against a single node and a cluster), so these tests use the single node only."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from session_client import SessionClient, Verifier
from session_wire.v1 import session_pb2_grpc

from session_service.domain.manager import SessionManager
from session_service.store.embedded import RedisServerProcess
from session_service.transport.pipeline import CallWrapper, WrappingRegistrar
from session_service.transport.servicer import SessionServicer
from tests.conftest import RedisTarget, Running, within

ClientFactory = Callable[..., Awaitable[SessionClient]]
VerifierFactory = Callable[..., Awaitable[Verifier]]


@pytest.fixture(scope="session")
def redis_target(redis_server: RedisServerProcess) -> RedisTarget:
    """Overrides the standalone/cluster parametrization: one standalone Redis."""
    return RedisTarget("standalone", redis_server.url)


def target(r: Running) -> str:
    """Where a started service listens."""
    return f"127.0.0.1:{r.service.port}"


@pytest.fixture
async def connect() -> AsyncIterator[ClientFactory]:
    """Opens SessionClients (each its own channel, like separate services); closes them after."""
    clients: list[SessionClient] = []

    async def factory(r: Running | str, **options: Any) -> SessionClient:
        client = SessionClient(r if isinstance(r, str) else target(r), **options)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await within(5, client.close(), "SessionClient.close")


@pytest.fixture
async def start_verifier(connect: ClientFactory) -> AsyncIterator[VerifierFactory]:
    """Starts Verifiers on their own channels; stops them after."""
    verifiers: list[Verifier] = []

    async def factory(r: Running | str, **options: Any) -> Verifier:
        verifier = Verifier(await connect(r), **options)
        await verifier.start()
        verifiers.append(verifier)
        return verifier

    yield factory
    for verifier in verifiers:
        await within(10, verifier.close(), "Verifier.close")


async def serve_manager(
    manager: SessionManager,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    credentials: grpc.ServerCredentials | None = None,
) -> tuple[grpc.aio.Server, int]:
    """A second gRPC server for a running service's manager (extra interceptors, TLS)."""
    server = grpc.aio.server(interceptors=interceptors)
    # Registered wrapped, as the service itself does (session_service/app.py).
    wrapped = WrappingRegistrar(server, CallWrapper()).as_server()
    session_pb2_grpc.add_SessionServiceServicer_to_server(SessionServicer(manager), wrapped)
    address = "127.0.0.1:0"
    port = (
        server.add_secure_port(address, credentials)
        if credentials is not None
        else server.add_insecure_port(address)
    )
    await server.start()
    return server, port


@dataclass(frozen=True)
class Pki:
    """A private CA with a server certificate (localhost, 127.0.0.1) and a client certificate."""

    ca: bytes
    server_cert: bytes
    server_key: bytes
    client_cert: bytes
    client_key: bytes


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    sans: Sequence[x509.GeneralName] = (),
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="session")
def pki() -> Pki:
    """Certificates made for this run."""
    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _cert("test CA", ca_key, None, ca_key, ca=True)
    server = _cert(
        "session-service",
        server_key,
        ca.subject,
        ca_key,
        sans=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client = _cert("gateway", client_key, ca.subject, ca_key)
    pem = serialization.Encoding.PEM
    return Pki(
        ca.public_bytes(pem),
        server.public_bytes(pem),
        _pem_key(server_key),
        client.public_bytes(pem),
        _pem_key(client_key),
    )


@pytest.fixture
def pki_files(pki: Pki, tmp_path: Path) -> dict[str, str]:
    """The test PKI as PEM files, the way a mounted Secret provides them."""
    contents = {
        "ca.crt": pki.ca,
        "tls.crt": pki.server_cert,
        "tls.key": pki.server_key,
        "client.crt": pki.client_cert,
        "client.key": pki.client_key,
    }
    for name, pem in contents.items():
        (tmp_path / name).write_bytes(pem)
    return {name: str(tmp_path / name) for name in contents}
