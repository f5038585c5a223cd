"""Zero-trust calls through the whole service: TLS and mTLS with real handshakes, caller
identity from certificates or bearer caller tokens, the authorization policy on every
RPC, plaintext health for probes, and audit lines for denials and revocations."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from session_client import CallerNotAllowed, SessionClient, TlsConfig, Verifier
from session_client.status import error_details
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

from session_service.app import SERVICE_METHODS, Service, start
from session_service.audit import AUDIT_LOGGER_NAME
from session_service.config import Settings
from session_service.store.embedded import RedisServerProcess
from session_service.tokens.keyring import Keyring
from tests.certs import CertificateAuthority, Issued, SecretMount
from tests.conftest import free_port, refresh_token_keys_file, stop_within

ALICE_SVC = "spiffe://cluster.local/ns/auth/sa/login"
READER = "spiffe://cluster.local/ns/shop/sa/cart"
NOT_ALLOWED, UNAUTHENTICATED = "CALLER_NOT_ALLOWED", "CALLER_UNAUTHENTICATED"

# A request that parses for each RPC (what matters is the status before the handler).
REQUESTS: dict[str, Any] = {
    "Create": pb.CreateRequest(user_id="u"),
    "Get": pb.GetRequest(session_id="x"),
    "Refresh": pb.RefreshRequest(refresh_token="x"),
    "Revoke": pb.RevokeRequest(session_id="x"),
    "Introspect": pb.IntrospectRequest(token="x"),
    "IntrospectBatch": pb.IntrospectBatchRequest(requests=[pb.IntrospectRequest(token="x")]),
    "Update": pb.UpdateRequest(session_id="x"),
    "List": pb.ListRequest(user_id="u"),
    "GetJwks": pb.GetJwksRequest(),
    "Exchange": pb.ExchangeRequest(subject_token="x", audience="a"),
    "Reauthenticate": pb.ReauthenticateRequest(session_id="x"),
}


class Pki:
    """A CA, the server's certificate files (mounted like a Secret) and client certificates."""

    def __init__(self, folder: Path) -> None:
        self.ca = CertificateAuthority()
        self.server = self.ca.issue_server()
        self.mount = SecretMount(
            folder / "tls",
            {"tls.crt": self.server.cert_pem, "tls.key": self.server.key_pem, "ca.crt": self.ca.cert_pem},
        )

    def channel(self, port: int, client: Issued | None, trust: bytes | None = None) -> grpc.aio.Channel:
        credentials = grpc.ssl_channel_credentials(
            trust or self.ca.cert_pem,
            client.key_pem if client else None,
            client.cert_pem if client else None,
        )
        return grpc.aio.secure_channel(f"localhost:{port}", credentials)


Starter = Callable[..., Awaitable[Service]]


@pytest.fixture
async def start_secure(redis_server: RedisServerProcess, keyring: Keyring) -> AsyncIterator[Starter]:
    started: list[Service] = []

    async def factory(**overrides: Any) -> Service:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": 0,
            "redis_url": redis_server.url,
            "redis_prefix": f"zt{free_port()}",
            "metrics_port": 0,
            "health_interval": 0.1,
            "refresh_token_keys_file": refresh_token_keys_file(),
        }
        values.update(overrides)
        service = await start(Settings(**values), keyring=keyring)
        started.append(service)
        return service

    yield factory
    for service in started:
        await stop_within(service, 20)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


def _policy(tmp_path: Path, callers: dict[str, Any]) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"callers": callers}))
    return path


async def _mtls_service(start_secure: Starter, pki: Pki, policy: Path | None, **extra: Any) -> Service:
    return await start_secure(
        tls_cert_file=str(pki.mount.path("tls.crt")),
        tls_key_file=str(pki.mount.path("tls.key")),
        tls_client_ca_file=str(pki.mount.path("ca.crt")),
        authz_policy_file=str(policy) if policy else "",
        dev=policy is None,  # certificates without a policy start only in development mode
        **extra,
    )


def _code_reason(error: grpc.aio.AioRpcError) -> tuple[grpc.StatusCode, str]:
    details = error_details(error)
    return details.code, details.reason


async def test_allowed_caller_calls_over_mtls_and_others_are_denied_every_rpc(
    start_secure: Starter, pki: Pki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    policy = _policy(tmp_path, {ALICE_SVC: ["*"], READER: ["GetJwks"]})
    service = await _mtls_service(start_secure, pki, policy)
    login = pki.ca.issue_client(uri=ALICE_SVC)
    stranger = pki.ca.issue_client(uri="spiffe://cluster.local/ns/x/sa/evil")
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER_NAME)

    async with pki.channel(service.port, login) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        created = await stub.Create(pb.CreateRequest(user_id="alice", client_id="web"))
        assert created.access_token
        assert (await stub.Revoke(pb.RevokeRequest(user_id="alice"))).revoked_count == 1

    async with pki.channel(service.port, stranger) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        for rpc, request in REQUESTS.items():
            with pytest.raises(grpc.aio.AioRpcError) as denied:
                await getattr(stub, rpc)(request, timeout=5)
            assert _code_reason(denied.value) == (grpc.StatusCode.PERMISSION_DENIED, "CALLER_NOT_ALLOWED"), (
                rpc
            )
            assert rpc in (denied.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as watch_denied:
            async for _ in stub.WatchRevocations(pb.WatchRevocationsRequest(), timeout=5):
                pass
        assert _code_reason(watch_denied.value)[1] == "CALLER_NOT_ALLOWED"
    assert set(REQUESTS) | {"WatchRevocations"} == set(SERVICE_METHODS)

    async with pki.channel(service.port, pki.ca.issue_client(uri=READER)) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        assert json.loads((await stub.GetJwks(pb.GetJwksRequest())).jwks_json)["keys"]
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await stub.Create(pb.CreateRequest(user_id="bob"))
        assert _code_reason(denied.value) == (grpc.StatusCode.PERMISSION_DENIED, "CALLER_NOT_ALLOWED")

    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == AUDIT_LOGGER_NAME]
    created_event = next(e for e in events if e["event"] == "session_created")
    assert created_event["caller"] == ALICE_SVC and created_event["user_id"] == "alice"
    revoked = next(e for e in events if e["event"] == "sessions_revoked")
    assert (revoked["caller"], revoked["target"], revoked["count"]) == (ALICE_SVC, "alice", 1)
    assert revoked["reason"] == "logout_everywhere"
    denials = [e for e in events if e["event"] == "caller_denied"]
    assert len(denials) == len(REQUESTS) + 2
    assert {d["reason"] for d in denials} == {"CALLER_NOT_ALLOWED"}
    assert any(d["caller"] == READER and d["rpc"] == "Create" for d in denials)
    audit_text = "\n".join(r.getMessage() for r in caplog.records if r.name == AUDIT_LOGGER_NAME)
    for secret in (created.access_token, created.refresh_token, created.refresh_token.rsplit(".", 1)[1]):
        assert secret not in audit_text


@pytest.mark.parametrize("case", ["no certificate", "another CA", "expired", "plaintext"])
async def test_callers_without_a_valid_client_certificate_are_refused_by_the_handshake(
    start_secure: Starter, pki: Pki, case: str
) -> None:
    service = await _mtls_service(start_secure, pki, None)
    if case == "plaintext":
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.port}")
    elif case == "no certificate":
        channel = pki.channel(service.port, None)
    elif case == "another CA":
        channel = pki.channel(service.port, CertificateAuthority("other").issue_client(uri=ALICE_SVC))
    else:
        channel = pki.channel(service.port, pki.ca.issue_client(uri=ALICE_SVC, expired=True))
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await session_pb2_grpc.SessionServiceStub(channel).GetJwks(pb.GetJwksRequest(), timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_rotated_server_certificate_is_served_without_restart(start_secure: Starter, pki: Pki) -> None:
    service = await _mtls_service(start_secure, pki, None)
    client = pki.ca.issue_client(uri=ALICE_SVC)
    async with pki.channel(service.port, client) as channel:
        await session_pb2_grpc.SessionServiceStub(channel).GetJwks(pb.GetJwksRequest(), timeout=5)
    # cert-manager renews under a new CA: the mounted Secret changes in one rename.
    new_ca = CertificateAuthority("renewed CA")
    renewed = new_ca.issue_server()
    pki.mount.update({"tls.crt": renewed.cert_pem, "tls.key": renewed.key_pem, "ca.crt": pki.ca.cert_pem})
    deadline = time.monotonic() + 15
    while True:
        async with pki.channel(service.port, client, trust=new_ca.cert_pem) as channel:
            try:
                await session_pb2_grpc.SessionServiceStub(channel).GetJwks(pb.GetJwksRequest(), timeout=2)
                break
            except grpc.aio.AioRpcError:
                assert time.monotonic() < deadline, "the renewed certificate was never served"
                await asyncio.sleep(0.2)
    # Clients that still trust only the old CA now fail: the old certificate is gone.
    async with pki.channel(service.port, client) as channel:
        with pytest.raises(grpc.aio.AioRpcError):
            await session_pb2_grpc.SessionServiceStub(channel).GetJwks(pb.GetJwksRequest(), timeout=2)


async def test_probes_use_the_plaintext_health_port_while_the_api_needs_tls(
    start_secure: Starter, pki: Pki, tmp_path: Path
) -> None:
    health_port = free_port()
    policy = _policy(tmp_path, {ALICE_SVC: ["GetJwks"]})
    service = await _mtls_service(start_secure, pki, policy, health_port=health_port)
    assert service.health_port == health_port
    async with grpc.aio.insecure_channel(f"127.0.0.1:{health_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", "session.v1.SessionService"):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        # The health port serves nothing else.
        with pytest.raises(grpc.aio.AioRpcError) as unimplemented:
            await session_pb2_grpc.SessionServiceStub(channel).GetJwks(pb.GetJwksRequest(), timeout=5)
        assert unimplemented.value.code() == grpc.StatusCode.UNIMPLEMENTED
    # Health on the main port needs no policy entry, only the verified channel.
    async with pki.channel(service.port, pki.ca.issue_client(uri=READER)) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_follows_the_policy(start_secure: Starter, pki: Pki, tmp_path: Path) -> None:
    policy = _policy(tmp_path, {ALICE_SVC: ["ServerReflectionInfo"], READER: ["GetJwks"]})
    service = await _mtls_service(start_secure, pki, policy)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    async with pki.channel(service.port, pki.ca.issue_client(uri=ALICE_SVC)) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = [r async for r in stub.ServerReflectionInfo(iter([request]), timeout=15)]
        names = {s.name for s in replies[0].list_services_response.service}
        assert "session.v1.SessionService" in names
    async with pki.channel(service.port, pki.ca.issue_client(uri=READER)) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            _ = [r async for r in stub.ServerReflectionInfo(iter([request]), timeout=15)]
        assert _code_reason(denied.value) == (grpc.StatusCode.PERMISSION_DENIED, "CALLER_NOT_ALLOWED")


async def test_create_is_limited_to_the_client_ids_the_policy_lists(
    start_secure: Starter, pki: Pki, tmp_path: Path
) -> None:
    policy = _policy(tmp_path, {ALICE_SVC: {"rpcs": ["Create"], "client_ids": ["web"]}})
    service = await _mtls_service(start_secure, pki, policy)
    async with pki.channel(service.port, pki.ca.issue_client(uri=ALICE_SVC)) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        await stub.Create(pb.CreateRequest(user_id="alice", client_id="web"))
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await stub.Create(pb.CreateRequest(user_id="alice", client_id="admin-console"))
        assert _code_reason(denied.value) == (grpc.StatusCode.PERMISSION_DENIED, "CALLER_NOT_ALLOWED")


async def test_policy_change_on_disk_applies_without_restart(
    start_secure: Starter, pki: Pki, tmp_path: Path
) -> None:
    policy = _policy(tmp_path, {ALICE_SVC: ["GetJwks"]})
    service = await _mtls_service(start_secure, pki, policy)
    async with pki.channel(service.port, pki.ca.issue_client(uri=ALICE_SVC)) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.Create(pb.CreateRequest(user_id="alice"))
        staged = tmp_path / "policy.next"
        staged.write_text(json.dumps({"callers": {ALICE_SVC: ["GetJwks", "Create"]}}))
        staged.replace(policy)
        deadline = time.monotonic() + 15
        while True:
            try:
                await stub.Create(pb.CreateRequest(user_id="alice"))
                break
            except grpc.aio.AioRpcError as e:
                assert _code_reason(e)[1] == "CALLER_NOT_ALLOWED"
                assert time.monotonic() < deadline, "the new policy was never applied"
                await asyncio.sleep(0.1)


async def test_python_client_and_verifier_work_over_mtls(
    start_secure: Starter, pki: Pki, tmp_path: Path
) -> None:
    policy = _policy(tmp_path, {ALICE_SVC: ["*"], READER: ["GetJwks", "WatchRevocations"]})
    service = await _mtls_service(start_secure, pki, policy)
    login_cert, reader_cert = pki.ca.issue_client(uri=ALICE_SVC), pki.ca.issue_client(uri=READER)

    def tls(issued: Issued) -> TlsConfig:
        return TlsConfig(pki.ca.cert_pem, issued.cert_pem, issued.key_pem, server_name="localhost")

    target = f"127.0.0.1:{service.port}"
    async with (
        SessionClient(target, tls=tls(login_cert)) as login,
        SessionClient(target, tls=tls(reader_cert)) as reader,
        Verifier(reader) as verifier,
    ):
        created = await login.create("alice")
        assert verifier.verify(created.access_token).subject == "alice"
        await login.revoke_session(created.session.session_id)
        deadline = time.monotonic() + 5
        while not verifier.is_revoked(created.session.session_id):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        with pytest.raises(CallerNotAllowed):
            await reader.create("mallory")


class CallerIssuer:
    """A caller-token issuer, like a cluster's service-account issuer: RS256 keys in a JWKS file."""

    def __init__(self, folder: Path) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid="sa-1", alg="RS256", use="sig")
        self.jwks_file = folder / "jwks.json"
        self.jwks_file.write_text(json.dumps({"keys": [jwk]}))

    def token(
        self,
        sub: str,
        *,
        aud: str = "session-service",
        iss: str = "https://kubernetes.default.svc",
        exp_in: int = 600,
        key: Any = None,
    ) -> str:
        now = int(time.time())
        claims = {"sub": sub, "aud": aud, "iss": iss, "iat": now, "exp": now + exp_in}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": "sa-1"})


async def test_bearer_caller_tokens_authenticate_callers_without_mtls(
    start_secure: Starter, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = CallerIssuer(tmp_path)
    sa = "system:serviceaccount:auth:login"
    service = await start_secure(
        caller_jwks_file=str(issuer.jwks_file),
        caller_issuer="https://kubernetes.default.svc",
        caller_audience="session-service",
        authz_policy_file=str(_policy(tmp_path, {sa: ["Create", "Revoke"]})),
    )
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER_NAME)
    target = f"127.0.0.1:{service.port}"
    async with SessionClient(target, caller_token=issuer.token(sa)) as client:
        created = await client.create("alice")
        assert await client.revoke_session(created.session.session_id) == 1
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = {
        "no token": None,
        "wrong audience": issuer.token(sa, aud="someone-else"),
        "wrong issuer": issuer.token(sa, iss="https://evil"),
        "wrong key": issuer.token(sa, key=other_key),
        "expired": issuer.token(sa, exp_in=-120),
        "garbage": "not-a-jwt",
    }
    async with grpc.aio.insecure_channel(target) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        for case, token in bad.items():
            metadata = [("authorization", f"Bearer {token}")] if token else []
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.Create(pb.CreateRequest(user_id="u"), metadata=metadata, timeout=5)
            assert _code_reason(refused.value) == (
                grpc.StatusCode.UNAUTHENTICATED,
                "CALLER_UNAUTHENTICATED",
            ), case
            if token:
                assert token not in (refused.value.details() or ""), case
    audit_text = "\n".join(r.getMessage() for r in caplog.records if r.name == AUDIT_LOGGER_NAME)
    assert audit_text.count('"caller_denied"') == len(bad)
    for token in bad.values():
        if token:
            assert token not in audit_text
    assert sa in audit_text


async def test_sessionctl_speaks_mtls_and_sends_a_caller_token(
    start_secure: Starter, pki: Pki, tmp_path: Path
) -> None:
    policy = _policy(tmp_path, {ALICE_SVC: ["GetJwks", "Create", "IntrospectBatch"]})
    service = await _mtls_service(start_secure, pki, policy)
    client = pki.ca.issue_client(uri=ALICE_SVC)
    cert, key = client.write(tmp_path / "client", "sessionctl")
    ca = pki.ca.write(tmp_path / "client")
    base = [sys.executable, "-m", "session_client.cli", "--target", f"127.0.0.1:{service.port}"]
    tls = ["--ca", str(ca), "--cert", str(cert), "--key", str(key), "--server-name", "localhost"]

    async def sessionctl(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            *base, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(process.communicate(), 30)
        return process.returncode or 0, out.decode(), err.decode()

    code, out, _ = await sessionctl(*tls, "create", "alice")
    assert code == 0 and json.loads(out)["session"]["user_id"] == "alice"
    access = json.loads(out)["access_token"]
    # Several tokens: one IntrospectBatch call, answers in order.
    code, out, _ = await sessionctl(*tls, "introspect", access, "not-a-token")
    answers = json.loads(out)["responses"]
    assert code == 0 and answers[0]["active"] and answers[0]["sub"] == "alice"
    assert answers[1].get("active", False) is False
    code, _, err = await sessionctl(*tls, "list", "alice")
    assert code == 1 and json.loads(err)["reason"] == "CALLER_NOT_ALLOWED"
    code, _, err = await sessionctl("jwks")  # plaintext to a TLS port: refused
    assert code == 1 and json.loads(err)["code"] == "UNAVAILABLE"


async def test_envoy_check_is_allowed_to_the_listed_gateway_identity_only(
    start_secure: Starter, pki: Pki, tmp_path: Path
) -> None:
    from session_wire.ext_authz import attribute_context_pb2, external_auth_pb2, external_auth_pb2_grpc

    gateway = "spiffe://cluster.local/ns/istio-system/sa/ingress"
    policy = _policy(tmp_path, {ALICE_SVC: ["Create"], gateway: ["Check"], READER: ["GetJwks"]})
    service = await _mtls_service(start_secure, pki, policy)
    async with pki.channel(service.port, pki.ca.issue_client(uri=ALICE_SVC)) as channel:
        token = (
            await session_pb2_grpc.SessionServiceStub(channel).Create(pb.CreateRequest(user_id="eve"))
        ).access_token
    http = attribute_context_pb2.AttributeContext.HttpRequest(
        method="GET", path="/", host="shop.example", headers={"authorization": f"Bearer {token}"}
    )
    request = external_auth_pb2.CheckRequest(
        attributes=attribute_context_pb2.AttributeContext(
            request=attribute_context_pb2.AttributeContext.Request(http=http)
        )
    )
    async with pki.channel(service.port, pki.ca.issue_client(uri=gateway)) as channel:
        allowed = await external_auth_pb2_grpc.AuthorizationStub(channel).Check(request, timeout=5)
        assert allowed.status.code == 0
        assert {o.header.key: o.header.value for o in allowed.ok_response.headers}["x-user-id"] == "eve"
    async with pki.channel(service.port, pki.ca.issue_client(uri=READER)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await external_auth_pb2_grpc.AuthorizationStub(channel).Check(request, timeout=5)
        assert _code_reason(denied.value) == (grpc.StatusCode.PERMISSION_DENIED, NOT_ALLOWED)


async def test_the_per_caller_rate_limit_counts_each_authenticated_caller_apart(
    start_secure: Starter, tmp_path: Path
) -> None:
    # Both callers come from the same address (a node, a NAT, a mesh sidecar): only their
    # identities tell them apart, and one exhausting its rate must not refuse the other.
    issuer = CallerIssuer(tmp_path)
    service = await start_secure(
        caller_jwks_file=str(issuer.jwks_file),
        caller_issuer="https://kubernetes.default.svc",
        caller_audience="session-service",
        caller_rate_limit=20,
        dev=True,  # caller tokens without a policy start only in development mode
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)

        async def burst(sub: str, calls: int) -> list[Any]:
            metadata = [("authorization", f"Bearer {issuer.token(sub)}")]
            return await asyncio.gather(
                *(stub.GetJwks(pb.GetJwksRequest(), metadata=metadata) for _ in range(calls)),
                return_exceptions=True,
            )

        noisy = await burst("system:serviceaccount:shop:noisy", 60)
        refused = [e for e in noisy if isinstance(e, grpc.aio.AioRpcError)]
        assert refused and all(_code_reason(e)[1] == "RATE_LIMITED" for e in refused)
        quiet = await burst("system:serviceaccount:shop:quiet", 15)
        assert all(isinstance(r, pb.GetJwksResponse) for r in quiet), quiet


LOGIN_EU = "spiffe://cluster.local/ns/auth/sa/login-eu"
OTHER_LOGIN = "spiffe://cluster.local/ns/blog/sa/login"


async def _caller_token_service(start_secure: Starter, tmp_path: Path, **extra: Any) -> tuple[Service, Any]:
    """A service that knows callers by caller token, with a policy in which ALICE_SVC and
    LOGIN_EU share sessions and OTHER_LOGIN may call the same RPCs on its own sessions."""
    issuer = CallerIssuer(tmp_path)
    rpcs = ["Create", "Get", "Refresh", "Revoke"]
    policy = _policy(
        tmp_path,
        {
            ALICE_SVC: {"rpcs": rpcs, "share_sessions_with": [LOGIN_EU]},
            LOGIN_EU: rpcs,
            OTHER_LOGIN: rpcs,
        },
    )
    service = await start_secure(
        caller_jwks_file=str(issuer.jwks_file),
        caller_issuer="https://kubernetes.default.svc",
        caller_audience="session-service",
        authz_policy_file=str(policy),
        **extra,
    )
    return service, issuer


async def test_another_caller_can_neither_refresh_nor_revoke_a_session_and_changes_nothing(
    start_secure: Starter, tmp_path: Path
) -> None:
    service, issuer = await _caller_token_service(start_secure, tmp_path, refresh_grace=0)
    as_login, as_other = (
        [("authorization", f"Bearer {issuer.token(identity)}")] for identity in (ALICE_SVC, OTHER_LOGIN)
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        created = await stub.Create(pb.CreateRequest(user_id="alice"), metadata=as_login)
        current = (
            await stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token), metadata=as_login)
        ).refresh_token
        # The other service presents the current token, a rotated one (which would be reuse
        # from the session's own caller), and logs out with it: refused, and nothing changes.
        for request in (
            pb.RefreshRequest(refresh_token=current),
            pb.RefreshRequest(refresh_token=created.refresh_token),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.Refresh(request, metadata=as_other)
            assert _code_reason(refused.value) == (
                grpc.StatusCode.PERMISSION_DENIED,
                "SESSION_CLIENT_MISMATCH",
            )
        for token in (current, created.refresh_token):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.Revoke(pb.RevokeRequest(refresh_token=token), metadata=as_other)
            assert _code_reason(refused.value) == (
                grpc.StatusCode.PERMISSION_DENIED,
                "SESSION_CLIENT_MISMATCH",
            )
        # Intact: the session lives and its current token still rotates for its own caller.
        session = await stub.Get(pb.GetRequest(session_id=created.session.session_id), metadata=as_login)
        assert session.session.user_id == "alice"
        await stub.Refresh(pb.RefreshRequest(refresh_token=current), metadata=as_login)


async def test_a_caller_the_policy_lets_share_sessions_refreshes_and_revokes_them(
    start_secure: Starter, tmp_path: Path
) -> None:
    service, issuer = await _caller_token_service(start_secure, tmp_path)
    as_login, as_eu = ([("authorization", f"Bearer {issuer.token(i)}")] for i in (ALICE_SVC, LOGIN_EU))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        # Sharing is mutual: each replica refreshes what the other created.
        by_login = await stub.Create(pb.CreateRequest(user_id="alice"), metadata=as_login)
        by_eu = await stub.Create(pb.CreateRequest(user_id="bob"), metadata=as_eu)
        rotated = await stub.Refresh(pb.RefreshRequest(refresh_token=by_login.refresh_token), metadata=as_eu)
        await stub.Refresh(pb.RefreshRequest(refresh_token=by_eu.refresh_token), metadata=as_login)
        revoked = await stub.Revoke(pb.RevokeRequest(refresh_token=rotated.refresh_token), metadata=as_login)
        assert revoked.revoked_count == 1


async def test_unbound_sessions_may_be_refreshed_by_any_allowed_caller(
    start_secure: Starter, tmp_path: Path
) -> None:
    service, issuer = await _caller_token_service(start_secure, tmp_path, bind_sessions_to_caller=False)
    as_login, as_other = ([("authorization", f"Bearer {issuer.token(i)}")] for i in (ALICE_SVC, OTHER_LOGIN))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        created = await stub.Create(pb.CreateRequest(user_id="alice"), metadata=as_login)
        await stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token), metadata=as_other)
