"""Token exchange from the Python client, and the exchanged token verified locally by the
service it is for: the Verifier takes the service's audience and the peer certificate of
the connection, and learns of the session's revocation within a second."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from session_client import (
    CertificateBindingMismatch,
    ExchangeNotAllowed,
    InvalidAudience,
    SessionClient,
    SessionRevoked,
    SubjectTokenInvalid,
    TlsConfig,
    Verifier,
)
from session_wire.delegation import ACCESS_TOKEN_TYPE

from tests.certs import CertificateAuthority, Issued
from tests.client.conftest import ClientFactory
from tests.client.polyglot import run_checked
from tests.client.test_node_example import built_example
from tests.conftest import Running, ServiceFactory
from tests.security.support import eventually

__all__ = ["built_example"]  # a fixture, imported for the Node.js test below

GATEWAY = "spiffe://cluster.local/ns/shop/sa/gateway-api"
ORDERS = "spiffe://cluster.local/ns/shop/sa/orders-api"


class Mtls:
    """A service over mTLS with a policy, and client certificates for its callers."""

    def __init__(self, running: Running, ca: CertificateAuthority) -> None:
        self.running = running
        self.ca = ca
        self.certs: dict[str, Issued] = {}

    def tls(self, identity: str) -> TlsConfig:
        cert = self.certs.setdefault(identity, self.ca.issue_client(uri=identity))
        return TlsConfig(self.ca.cert_pem, cert.cert_pem, cert.key_pem)

    @property
    def target(self) -> str:
        return f"localhost:{self.running.service.port}"


@pytest.fixture
async def mtls(start_service: ServiceFactory, tmp_path: Path) -> Mtls:
    ca = CertificateAuthority()
    cert_file, key_file = ca.issue_server().write(tmp_path, "server")
    policy = {
        "callers": {
            GATEWAY: {
                "rpcs": ["Create", "Revoke", "Exchange", "GetJwks"],
                "exchange": {"audiences": ["orders-api"], "scopes": ["orders:read"]},
            },
            ORDERS: {"rpcs": ["GetJwks", "WatchRevocations", "Introspect"]},
        }
    }
    (tmp_path / "policy.json").write_text(json.dumps(policy))
    running = await start_service(
        tls_cert_file=str(cert_file),
        tls_key_file=str(key_file),
        tls_client_ca_file=str(ca.write(tmp_path)),
        authz_policy_file=str(tmp_path / "policy.json"),
        allow_unauthenticated_callers=False,
    )
    return Mtls(running, ca)


async def _client(connect: ClientFactory, mtls: Mtls, identity: str) -> SessionClient:
    return await connect(mtls.target, tls=mtls.tls(identity))


async def test_gateway_exchanges_and_orders_api_verifies_locally(mtls: Mtls, connect: ClientFactory) -> None:
    gateway = await _client(connect, mtls, GATEWAY)
    created = await gateway.create("alice", scopes=["orders:read", "orders:write"])
    exchanged = await gateway.exchange(
        created.access_token, "orders-api", scopes=["orders:read"], bind_to_caller_certificate=True
    )
    assert exchanged.issued_token_type == ACCESS_TOKEN_TYPE
    assert exchanged.audience == "orders-api" and list(exchanged.scopes) == ["orders:read"]

    async with Verifier(await _client(connect, mtls, ORDERS), audience="orders-api") as verifier:
        gateway_cert = mtls.certs[GATEWAY]
        for presented in (gateway_cert.cert_pem, gateway_cert.cert.public_bytes(Encoding.DER)):
            verified = verifier.verify(exchanged.access_token, peer_certificate=presented)
            assert verified.subject == "alice" and verified.session_id == created.session.session_id
            assert verified.scopes == ("orders:read",)
            assert verified.actor == GATEWAY and verified.claims["act"] == {"sub": GATEWAY}
            assert verified.cnf_x5t
        with pytest.raises(CertificateBindingMismatch):
            verifier.verify(exchanged.access_token)
        with pytest.raises(CertificateBindingMismatch):
            verifier.verify(exchanged.access_token, peer_certificate=mtls.certs[ORDERS].cert_pem)
        # The user's own token is not for orders-api.
        with pytest.raises(InvalidAudience):
            verifier.verify(created.access_token)

        await gateway.revoke_session(created.session.session_id)
        await eventually(lambda: verifier.is_revoked(created.session.session_id), timeout=1.0, interval=0.01)
        with pytest.raises(SessionRevoked):
            verifier.verify(exchanged.access_token, peer_certificate=gateway_cert.cert_pem)


async def test_client_exchange_maps_refusals_to_error_classes(mtls: Mtls, connect: ClientFactory) -> None:
    gateway = await _client(connect, mtls, GATEWAY)
    created = await gateway.create("alice", scopes=["orders:read", "orders:write"])
    with pytest.raises(ExchangeNotAllowed):
        await gateway.exchange(created.access_token, "orders-api", scopes=["orders:write"])
    with pytest.raises(ExchangeNotAllowed):
        await gateway.exchange(created.access_token, "payments-api", scopes=["orders:read"])
    with pytest.raises(SubjectTokenInvalid):
        await gateway.exchange("x" + created.access_token, "orders-api", scopes=["orders:read"])


async def test_sessionctl_exchanges_and_introspects_for_an_audience(
    mtls: Mtls, connect: ClientFactory, tmp_path: Path
) -> None:
    gateway = await _client(connect, mtls, GATEWAY)
    created = await gateway.create("alice", scopes=["orders:read", "orders:write"])
    mtls.tls(ORDERS)
    files: dict[str, list[str]] = {}
    for identity, name in ((GATEWAY, "gateway"), (ORDERS, "orders")):
        cert, key = mtls.certs[identity].write(tmp_path, name)
        files[identity] = ["--ca", str(mtls.ca.write(tmp_path)), "--cert", str(cert), "--key", str(key)]

    async def sessionctl(identity: str, *args: str) -> dict[str, Any]:
        command = [
            sys.executable,
            "-m",
            "session_client.cli",
            "--target",
            mtls.target,
            *files[identity],
            *args,
        ]
        process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
        out, _ = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0
        reply: dict[str, Any] = json.loads(out)
        return reply

    exchanged = await sessionctl(
        GATEWAY, "exchange", created.access_token, "orders-api", "--scope", "orders:read"
    )
    assert exchanged["audience"] == "orders-api" and exchanged["scopes"] == ["orders:read"]
    assert exchanged["issued_token_type"] == ACCESS_TOKEN_TYPE
    introspected = await sessionctl(
        ORDERS, "introspect", exchanged["access_token"], "--audience", "orders-api"
    )
    assert introspected["active"] and json.loads(introspected["act"]) == {"sub": GATEWAY}


async def test_node_client_exchanges_and_jose_verifies_act_and_cnf(
    mtls: Mtls, connect: ClientFactory, tmp_path: Path, built_example: Path
) -> None:
    gateway = await _client(connect, mtls, GATEWAY)
    created = await gateway.create("alice", scopes=["orders:read", "orders:write"])
    cert, key = mtls.certs[GATEWAY].write(tmp_path, "gateway")
    node = shutil.which("node")
    assert node
    files = ["--ca", str(mtls.ca.write(tmp_path)), "--cert", str(cert), "--key", str(key)]
    out = await run_checked(
        [node, str(built_example.with_name("exchange.js")), mtls.target, *files],
        cwd=built_example.parents[1],
        env={"SESSION_SUBJECT_TOKEN": created.access_token},
        timeout=30,
    )
    steps = {s["step"]: s for s in map(json.loads, out.splitlines())}
    assert steps["exchange"]["scopes"] == ["orders:read"]
    assert steps["exchange"]["issued_token_type"] == ACCESS_TOKEN_TYPE
    verified = steps["verify_locally"]
    assert verified["aud"] == "orders-api" and verified["scope"] == "orders:read"
    assert verified["act"] == {"sub": GATEWAY} and verified["sub"] == "alice"
