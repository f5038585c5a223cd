"""ServerTls over real TLS handshakes: mTLS identity, refused clients, rotation without restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from cryptography import x509

from session_service.errors import ConfigError
from session_service.security import tls as tls_module
from session_service.security.caller import identity_from_auth_context
from session_service.security.tls import (
    CERT_FILE_SETTING,
    CLIENT_CA_FILE_SETTING,
    KEY_FILE_SETTING,
    ServerTls,
)
from tests.certs import CertificateAuthority, Issued, SecretMount, write_atomically
from tests.security.support import eventually

HOST = "127.0.0.1"
SERVICE = "test.Probe"
LOGIN_SPIFFE_ID = "spiffe://cluster.local/ns/shop/sa/login"


@dataclass
class Probe:
    """A tiny service: Whoami returns the caller identity, Hold waits until released."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    held: asyncio.Event = field(default_factory=asyncio.Event)

    async def whoami(self, request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        identity = identity_from_auth_context(context.auth_context())
        return (identity or "").encode()

    async def hold(self, request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        self.held.set()
        await self.release.wait()
        return b"released"

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Whoami": grpc.unary_unary_rpc_method_handler(self.whoami),
                "Hold": grpc.unary_unary_rpc_method_handler(self.hold),
            },
        )


@dataclass
class TlsSetup:
    """A CA, the server's files in a Secret-like mount, and the ServerTls reading them."""

    ca: CertificateAuthority
    server: Issued
    mount: SecretMount

    def server_tls(self, *, mutual: bool = True, handshake_check_interval: float = 0.0) -> ServerTls:
        return ServerTls(
            self.mount.path("tls.crt"),
            self.mount.path("tls.key"),
            self.mount.path("ca.crt") if mutual else None,
            handshake_check_interval=handshake_check_interval,
        )

    def rotate(self, server: Issued, client_ca: CertificateAuthority | None = None) -> None:
        self.server = server
        self.mount.update(
            {"tls.crt": server.cert_pem, "tls.key": server.key_pem, "ca.crt": (client_ca or self.ca).cert_pem}
        )


@pytest.fixture
def tls_setup(tmp_path: Path) -> TlsSetup:
    ca = CertificateAuthority()
    server = ca.issue_server()
    mount = SecretMount(
        tmp_path / "tls", {"tls.crt": server.cert_pem, "tls.key": server.key_pem, "ca.crt": ca.cert_pem}
    )
    return TlsSetup(ca, server, mount)


@contextlib.asynccontextmanager
async def serving(tls: ServerTls, probe: Probe | None = None) -> AsyncIterator[int]:
    """A grpc.aio server on a free loopback port with ``tls``' credentials; yields the port."""
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(((probe or Probe()).handler(),))
    port = server.add_secure_port(f"{HOST}:0", tls.server_credentials())
    await server.start()
    try:
        yield port
    finally:
        await server.stop(None)


def channel(port: int, trust: CertificateAuthority, client: Issued | None) -> grpc.aio.Channel:
    """A new channel with its own connection (no subchannel shared with other channels)."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=trust.cert_pem,
        private_key=client.key_pem if client else None,
        certificate_chain=client.cert_pem if client else None,
    )
    return grpc.aio.secure_channel(
        f"{HOST}:{port}", credentials, options=[("grpc.use_local_subchannel_pool", 1)]
    )


async def whoami(port: int, trust: CertificateAuthority, client: Issued | None) -> str:
    async with channel(port, trust, client) as ch:
        return await call(ch, "Whoami")


async def call(ch: grpc.aio.Channel, method: str) -> str:
    stub: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = ch.unary_unary(f"/{SERVICE}/{method}")
    reply = await stub(b"", timeout=5)
    return reply.decode()


@contextlib.contextmanager
def client_files(tmp_path: Path, client: Issued, trust: CertificateAuthority) -> Iterator[ssl.SSLContext]:
    cert_file, key_file = client.write(tmp_path / "client", "client")
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=trust.cert_pem.decode())
    context.load_cert_chain(cert_file, key_file)
    context.set_alpn_protocols(["h2"])
    yield context


def served_serial(port: int, context: ssl.SSLContext) -> int:
    """The serial number of the certificate the server presents to a new connection."""
    with (
        socket.create_connection((HOST, port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=HOST) as conn,
    ):
        der = conn.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


async def test_client_certificate_uri_san_is_the_caller_identity(tls_setup: TlsSetup) -> None:
    client = tls_setup.ca.issue_client(uri=LOGIN_SPIFFE_ID, dns="login.shop.svc")
    async with serving(tls_setup.server_tls()) as port:
        assert await whoami(port, tls_setup.ca, client) == LOGIN_SPIFFE_ID


async def test_client_certificate_dns_san_is_the_identity_without_a_uri_san(tls_setup: TlsSetup) -> None:
    client = tls_setup.ca.issue_client(dns="cart.shop.svc")
    async with serving(tls_setup.server_tls()) as port:
        assert await whoami(port, tls_setup.ca, client) == "cart.shop.svc"


@pytest.mark.parametrize("client_kind", ["none", "other CA", "expired"])
async def test_mtls_refuses_clients_without_a_valid_certificate(
    tls_setup: TlsSetup, client_kind: str
) -> None:
    client = {
        "none": None,
        "other CA": CertificateAuthority("stranger CA").issue_client(uri=LOGIN_SPIFFE_ID),
        "expired": tls_setup.ca.issue_client(uri=LOGIN_SPIFFE_ID, expired=True),
    }[client_kind]
    async with serving(tls_setup.server_tls()) as port:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await whoami(port, tls_setup.ca, client)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        # The same server still serves a good client.
        assert (
            await whoami(port, tls_setup.ca, tls_setup.ca.issue_client(uri=LOGIN_SPIFFE_ID))
            == LOGIN_SPIFFE_ID
        )


async def test_without_client_ca_clients_need_no_certificate(tls_setup: TlsSetup) -> None:
    tls = tls_setup.server_tls(mutual=False)
    assert not tls.mutual
    async with serving(tls) as port:
        assert await whoami(port, tls_setup.ca, None) == ""


async def test_rotated_certificate_reaches_new_connections_while_calls_in_flight_complete(
    tls_setup: TlsSetup, tmp_path: Path
) -> None:
    # The watch task is not started: the handshake-time check alone must see the rotation.
    tls = tls_setup.server_tls(handshake_check_interval=0.0)
    probe = Probe()
    client = tls_setup.ca.issue_client(uri=LOGIN_SPIFFE_ID)
    old_serial = tls_setup.server.serial_number
    with client_files(tmp_path, client, tls_setup.ca) as context:
        async with serving(tls, probe) as port, channel(port, tls_setup.ca, client) as established:
            assert await asyncio.to_thread(served_serial, port, context) == old_serial
            in_flight = asyncio.ensure_future(call(established, "Hold"))
            await asyncio.wait_for(probe.held.wait(), 5)

            tls_setup.rotate(tls_setup.ca.issue_server())
            assert tls_setup.server.serial_number != old_serial
            assert await asyncio.to_thread(served_serial, port, context) == tls_setup.server.serial_number
            assert tls.material.serial_number == tls_setup.server.serial_number

            probe.release.set()
            assert await asyncio.wait_for(in_flight, 5) == "released"
            # The established connection keeps working; new ones work with the new certificate.
            assert await call(established, "Whoami") == LOGIN_SPIFFE_ID
            assert await whoami(port, tls_setup.ca, client) == LOGIN_SPIFFE_ID


async def test_watch_task_picks_up_a_certificate_from_a_new_ca(tls_setup: TlsSetup) -> None:
    # Handshakes never stat the files here: only the watch task can see the rotation.
    tls = tls_setup.server_tls(handshake_check_interval=3600)
    client = tls_setup.ca.issue_client(uri=LOGIN_SPIFFE_ID)
    new_ca = CertificateAuthority("rotated CA")
    async with tls, serving(tls) as port:
        assert await whoami(port, tls_setup.ca, client) == LOGIN_SPIFFE_ID
        await asyncio.sleep(0)  # let the watch task set its watches
        # New server certificate from a new CA; client certificates still from the old one.
        tls_setup.rotate(new_ca.issue_server(), client_ca=tls_setup.ca)
        await eventually(lambda: tls.material.serial_number == tls_setup.server.serial_number)

        assert await whoami(port, new_ca, client) == LOGIN_SPIFFE_ID
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await whoami(port, tls_setup.ca, client)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_rotated_client_ca_admits_its_clients_and_refuses_the_old_ones(tls_setup: TlsSetup) -> None:
    tls = tls_setup.server_tls()
    old_client = tls_setup.ca.issue_client(uri=LOGIN_SPIFFE_ID)
    new_client_ca = CertificateAuthority("rotated client CA")
    new_client = new_client_ca.issue_client(uri=LOGIN_SPIFFE_ID)
    async with tls, serving(tls) as port:
        assert await whoami(port, tls_setup.ca, old_client) == LOGIN_SPIFFE_ID
        with pytest.raises(grpc.aio.AioRpcError):
            await whoami(port, tls_setup.ca, new_client)
        # Same server certificate, new client CA (cert-manager rotating the trust bundle).
        tls_setup.rotate(tls_setup.server, client_ca=new_client_ca)
        await eventually(lambda: tls.material.client_ca == new_client_ca.cert_pem)
        assert await whoami(port, tls_setup.ca, new_client) == LOGIN_SPIFFE_ID
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await whoami(port, tls_setup.ca, old_client)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_invalid_rotation_keeps_serving_the_previous_certificate(
    tls_setup: TlsSetup, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tls = tls_setup.server_tls(handshake_check_interval=0.0)
    client = tls_setup.ca.issue_client(uri=LOGIN_SPIFFE_ID)
    good = tls_setup.server
    mismatched = tls_setup.ca.issue_server()
    with client_files(tmp_path, client, tls_setup.ca) as context:
        async with serving(tls) as port:
            with caplog.at_level(logging.ERROR, logger="session_service.security.reload"):
                tls_setup.mount.update(
                    {"tls.crt": mismatched.cert_pem, "tls.key": good.key_pem, "ca.crt": tls_setup.ca.cert_pem}
                )
                assert await asyncio.to_thread(served_serial, port, context) == good.serial_number
                assert await whoami(port, tls_setup.ca, client) == LOGIN_SPIFFE_ID
            assert KEY_FILE_SETTING in caplog.text
            assert "does not belong to the certificate" in caplog.text
            assert good.key_pem.decode().splitlines()[1] not in caplog.text

            tls_setup.rotate(mismatched)
            assert await asyncio.to_thread(served_serial, port, context) == mismatched.serial_number


def test_fetcher_returns_new_material_once_per_rotation(tls_setup: TlsSetup) -> None:
    tls = tls_setup.server_tls(handshake_check_interval=0.0)
    fetcher = tls_module._CertificateFetcher(tls, tls._files.current[0])
    assert fetcher() is None
    tls_setup.rotate(tls_setup.ca.issue_server())
    assert isinstance(fetcher(), grpc.ServerCertificateConfiguration)
    assert fetcher() is None


@pytest.mark.parametrize(
    ("broken", "setting"),
    [
        ("tls.crt", CERT_FILE_SETTING),
        ("tls.key", KEY_FILE_SETTING),
        ("ca.crt", CLIENT_CA_FILE_SETTING),
        ("mismatched key", KEY_FILE_SETTING),
    ],
)
def test_invalid_files_at_start_are_config_errors_naming_the_setting(
    tmp_path: Path, broken: str, setting: str
) -> None:
    ca = CertificateAuthority()
    server = ca.issue_server()
    cert_file, key_file = server.write(tmp_path, "tls")
    ca_file = ca.write(tmp_path)
    if broken == "mismatched key":
        write_atomically(key_file, ca.issue_server().key_pem)
    else:
        write_atomically(tmp_path / broken, b"-----BEGIN GARBAGE-----\nsecret-ish\n-----END GARBAGE-----\n")
    with pytest.raises(ConfigError) as raised:
        ServerTls(cert_file, key_file, ca_file)
    assert raised.value.setting == setting
    assert "secret-ish" not in str(raised.value)


def test_missing_client_ca_file_is_a_config_error(tmp_path: Path) -> None:
    ca = CertificateAuthority()
    cert_file, key_file = ca.issue_server().write(tmp_path, "tls")
    with pytest.raises(ConfigError) as raised:
        ServerTls(cert_file, key_file, tmp_path / "absent-ca.crt")
    assert raised.value.setting == CLIENT_CA_FILE_SETTING


def test_identity_from_auth_context_prefers_uri_then_dns_san() -> None:
    ca = CertificateAuthority()

    def identity(client: Issued) -> str | None:
        return identity_from_auth_context({"x509_pem_cert": [client.cert_pem]})

    assert identity(ca.issue_client(uri=LOGIN_SPIFFE_ID, dns="login.shop.svc")) == LOGIN_SPIFFE_ID
    assert identity(ca.issue_client(dns="login.shop.svc")) == "login.shop.svc"
    assert identity(ca.issue_client()) is None
    assert identity_from_auth_context({}) is None
    assert identity_from_auth_context({"transport_security_type": [b"ssl"]}) is None
    assert identity_from_auth_context({"x509_pem_cert": [b"not a certificate"]}) is None


def test_tls_material_repr_does_not_show_the_private_key(tls_setup: TlsSetup) -> None:
    material = tls_setup.server_tls().material
    assert material.private_key == tls_setup.server.key_pem
    assert "PRIVATE KEY" not in repr(material)
    assert material.serial_number == tls_setup.server.serial_number
