"""Delegation over real mTLS channels, on a single Redis and a cluster. Token exchange
(RFC 8693): the exchanged token is narrower (one audience, fewer scopes, minutes), names
its actors, can be bound to the caller's certificate, and dies with the session; the
policy decides who may obtain what. Impersonation sessions: only for the callers the
policy names, visible in the tokens, Get and List, never refreshed, short. Tokens are
verified by joserfc, an independent JOSE library."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from cryptography.hazmat.primitives import hashes
from google.protobuf.timestamp_pb2 import Timestamp
from joserfc import jws
from joserfc.jwk import KeySet
from session_client.status import error_details
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

from session_service.audit import AUDIT_LOGGER_NAME
from tests.certs import CertificateAuthority, Issued
from tests.conftest import Running, ServiceFactory, expect_error
from tests.dpop_proofs import make_proof, new_key

if TYPE_CHECKING:
    from session_wire.v1.session_pb2_grpc import SessionServiceAsyncStub

FRONTEND = "spiffe://cluster.local/ns/shop/sa/frontend"
ORDERS = "spiffe://cluster.local/ns/shop/sa/orders"
RELAY = "spiffe://cluster.local/ns/shop/sa/relay"
STRANGER = "spiffe://cluster.local/ns/shop/sa/stranger"
SUPPORT = "spiffe://cluster.local/ns/support/sa/console"
OPERATOR = "ops-jane@example.com"
NOT_ALLOWED = (grpc.StatusCode.PERMISSION_DENIED, "EXCHANGE_NOT_ALLOWED")
SUBJECT_INVALID = (grpc.StatusCode.UNAUTHENTICATED, "SUBJECT_TOKEN_INVALID")
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"

POLICY = {
    FRONTEND: {
        "rpcs": ["Create", "Exchange", "Introspect", "Revoke", "GetJwks"],
        "exchange": {"audiences": ["orders-api"], "scopes": ["orders:read"]},
    },
    ORDERS: {
        "rpcs": ["Exchange", "Introspect", "IntrospectBatch"],
        "exchange": {"audiences": ["payments-api", "orders-api"], "scopes": ["*"]},
    },
    RELAY: {"rpcs": ["Exchange"], "exchange": {"audiences": ["*"], "scopes": ["*"]}},
    STRANGER: ["Exchange", "Introspect"],
    SUPPORT: {"rpcs": ["Create", "Refresh", "Get", "List", "Revoke", "Introspect"], "impersonate": True},
}


@dataclass
class Mesh:
    """A service over mTLS and a stub per calling service."""

    running: Running
    stubs: dict[str, SessionServiceAsyncStub]
    certs: dict[str, Issued]

    def __getitem__(self, identity: str) -> SessionServiceAsyncStub:
        return self.stubs[identity]


MeshFactory = Callable[..., Awaitable[Mesh]]


@pytest.fixture
async def start_mesh(start_service: ServiceFactory, tmp_path: Path) -> AsyncIterator[MeshFactory]:
    ca = CertificateAuthority()
    server = ca.issue_server()
    cert_file, key_file = server.write(tmp_path, "server")
    ca_file = ca.write(tmp_path)
    channels: list[grpc.aio.Channel] = []

    async def factory(**overrides: Any) -> Mesh:
        policy = tmp_path / "policy.json"
        policy.write_text(json.dumps({"callers": POLICY}))
        running = await start_service(
            tls_cert_file=str(cert_file),
            tls_key_file=str(key_file),
            tls_client_ca_file=str(ca_file),
            authz_policy_file=str(policy),
            allow_unauthenticated_callers=False,
            **overrides,
        )
        stubs, certs = {}, {}
        for identity in POLICY:
            cert = certs[identity] = ca.issue_client(uri=identity)
            credentials = grpc.ssl_channel_credentials(ca.cert_pem, cert.key_pem, cert.cert_pem)
            channel = grpc.aio.secure_channel(f"localhost:{running.service.port}", credentials)
            channels.append(channel)
            stubs[identity] = session_pb2_grpc.SessionServiceStub(channel)
        return Mesh(running, stubs, certs)

    yield factory
    for channel in channels:
        await channel.close()


@pytest.fixture
async def mesh(start_mesh: MeshFactory) -> Mesh:
    return await start_mesh()


async def _login(mesh: Mesh, **fields: Any) -> pb.CreateResponse:
    request = pb.CreateRequest(user_id="alice", scopes=["orders:read", "orders:write", "profile"], **fields)
    created: pb.CreateResponse = await mesh[FRONTEND].Create(request)
    return created


async def _exchange(stub: SessionServiceAsyncStub, token: str, **fields: Any) -> pb.ExchangeResponse:
    fields.setdefault("audience", "orders-api")
    response: pb.ExchangeResponse = await stub.Exchange(pb.ExchangeRequest(subject_token=token, **fields))
    return response


async def _joserfc_claims(mesh: Mesh, token: str) -> dict[str, Any]:
    """The token's claims, its signature verified by joserfc with the service's JWKS."""
    jwks = json.loads((await mesh[FRONTEND].GetJwks(pb.GetJwksRequest())).jwks_json)
    verified = jws.deserialize_compact(token, KeySet.import_key_set(jwks), algorithms=["EdDSA"])
    claims: dict[str, Any] = json.loads(verified.payload)
    return claims


def _x5t(cert: Issued) -> str:
    return base64.urlsafe_b64encode(cert.cert.fingerprint(hashes.SHA256())).rstrip(b"=").decode()


async def test_exchanged_token_is_narrower_names_the_actor_and_verifies_with_joserfc(
    mesh: Mesh, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER_NAME)
    created = await _login(mesh, client_id="web")
    before = time.time()
    exchanged = await _exchange(mesh[FRONTEND], created.access_token, scopes=["orders:read"])
    assert exchanged.audience == "orders-api"
    assert list(exchanged.scopes) == ["orders:read"]
    assert exchanged.issued_token_type == ACCESS_TOKEN_TYPE
    assert before + 290 <= exchanged.expires_at.seconds <= before + 301

    claims = await _joserfc_claims(mesh, exchanged.access_token)
    assert claims["aud"] == "orders-api"
    assert claims["sub"] == "alice" and claims["sid"] == created.session.session_id
    assert claims["scope"] == "orders:read" and claims["client_id"] == "web"
    assert claims["act"] == {"sub": FRONTEND}
    assert "cnf" not in claims
    assert claims["exp"] == exchanged.expires_at.seconds

    for_orders = await mesh[ORDERS].Introspect(
        pb.IntrospectRequest(token=exchanged.access_token, audience="orders-api")
    )
    assert for_orders.active and for_orders.aud == "orders-api" and for_orders.scope == "orders:read"
    assert json.loads(for_orders.act) == {"sub": FRONTEND}
    # Another audience's token is inactive, the service's own included.
    for audience in ("", "payments-api"):
        other = await mesh[ORDERS].Introspect(
            pb.IntrospectRequest(token=exchanged.access_token, audience=audience)
        )
        assert not other.active
    assert not (
        await mesh[ORDERS].Introspect(pb.IntrospectRequest(token=created.access_token, audience="orders-api"))
    ).active

    batch = await mesh[ORDERS].IntrospectBatch(
        pb.IntrospectBatchRequest(
            requests=[
                pb.IntrospectRequest(token=exchanged.access_token, audience="orders-api"),
                pb.IntrospectRequest(token=exchanged.access_token),
                pb.IntrospectRequest(token=created.access_token),
                pb.IntrospectRequest(token=created.refresh_token, audience="orders-api"),
            ]
        )
    )
    assert [r.active for r in batch.responses] == [True, False, True, False]

    lines = [r for r in caplog.records if r.getMessage().startswith('{"event":"token_exchanged"')]
    assert len(lines) == 1
    line = json.loads(lines[0].getMessage())
    assert line["caller"] == FRONTEND and line["user_id"] == "alice"
    assert line["session_id"] == created.session.session_id
    assert line["audience"] == "orders-api" and line["scopes"] == ["orders:read"]
    assert exchanged.access_token not in caplog.text and created.access_token not in caplog.text


async def test_exchanged_token_carries_the_users_authentication(mesh: Mesh) -> None:
    # Step-up requirements (max_age, acr_values) at the next service judge the user's
    # authentication, which the exchange neither makes nor hides.
    authenticated = int(time.time()) - 120
    created = await _login(mesh, acr="mfa", amr=["pwd", "otp"], auth_time=Timestamp(seconds=authenticated))
    exchanged = await _exchange(mesh[FRONTEND], created.access_token, scopes=["orders:read"])
    claims = await _joserfc_claims(mesh, exchanged.access_token)
    assert (claims["acr"], claims["amr"], claims["auth_time"]) == ("mfa", ["pwd", "otp"], authenticated)
    seen = await mesh[ORDERS].Introspect(
        pb.IntrospectRequest(token=exchanged.access_token, audience="orders-api")
    )
    assert seen.active and (seen.acr, list(seen.amr), seen.auth_time) == (
        "mfa",
        ["pwd", "otp"],
        authenticated,
    )
    # A chain keeps it.
    onward = await _exchange(mesh[ORDERS], exchanged.access_token, audience="payments-api")
    claims = await _joserfc_claims(mesh, onward.access_token)
    assert (claims["acr"], claims["auth_time"]) == ("mfa", authenticated)


async def test_scopes_default_to_the_subjects_and_lifetime_to_the_least_of_three(mesh: Mesh) -> None:
    created = await _login(mesh)
    every = await _exchange(mesh[RELAY], created.access_token, audience="billing", ttl_seconds=30)
    assert sorted(every.scopes) == ["orders:read", "orders:write", "profile"]
    assert every.expires_at.seconds <= time.time() + 31
    longest = await _exchange(mesh[RELAY], created.access_token, audience="billing", ttl_seconds=100_000)
    assert longest.expires_at.seconds <= time.time() + 301


async def test_scope_escalation_and_foreign_audiences_are_refused(mesh: Mesh) -> None:
    created = await _login(mesh)
    token = created.access_token
    async with expect_error(*NOT_ALLOWED):
        await _exchange(
            mesh[ORDERS], token, audience="payments-api", scopes=["orders:admin"]
        )  # not the subject's
    async with expect_error(*NOT_ALLOWED):
        await _exchange(mesh[FRONTEND], token, scopes=["orders:write"])  # the subject's, not the grant's
    async with expect_error(*NOT_ALLOWED):
        await _exchange(mesh[FRONTEND], token)  # all the subject's scopes, more than the grant's
    async with expect_error(*NOT_ALLOWED):
        await _exchange(mesh[FRONTEND], token, audience="payments-api", scopes=["orders:read"])
    async with expect_error(*NOT_ALLOWED):
        await _exchange(mesh[STRANGER], token, scopes=["orders:read"])  # may call Exchange, obtain nothing
    narrowed = await _exchange(mesh[FRONTEND], token, scopes=["orders:read"])
    async with expect_error(*NOT_ALLOWED):  # a narrowed token never widens again
        await _exchange(mesh[ORDERS], narrowed.access_token, audience="payments-api", scopes=["orders:write"])


async def test_act_chain_nests_and_stops_at_the_maximum_depth(start_mesh: MeshFactory) -> None:
    mesh = await start_mesh(exchange_max_depth=2)
    created = await _login(mesh)
    first = await _exchange(mesh[FRONTEND], created.access_token, scopes=["orders:read"])
    second = await _exchange(mesh[ORDERS], first.access_token, audience="payments-api")
    claims = await _joserfc_claims(mesh, second.access_token)
    assert claims["act"] == {"sub": ORDERS, "act": {"sub": FRONTEND}}
    assert claims["aud"] == "payments-api" and claims["scope"] == "orders:read"
    async with expect_error(*NOT_ALLOWED):
        await _exchange(mesh[RELAY], second.access_token, audience="billing")


async def test_may_act_lets_only_the_named_actor_exchange(mesh: Mesh) -> None:
    created = await _login(mesh, claims={"may_act": json.dumps({"sub": ORDERS})})
    assert (await _joserfc_claims(mesh, created.access_token))["may_act"] == {"sub": ORDERS}
    async with expect_error(*NOT_ALLOWED):
        await _exchange(mesh[FRONTEND], created.access_token, scopes=["orders:read"])
    exchanged = await _exchange(mesh[ORDERS], created.access_token, audience="payments-api")
    assert "may_act" not in await _joserfc_claims(mesh, exchanged.access_token)
    async with expect_error(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"):
        await _login(mesh, claims={"may_act": "not json"})


async def test_revoking_the_session_ends_its_exchanged_tokens(mesh: Mesh) -> None:
    created = await _login(mesh)
    exchanged = await _exchange(mesh[FRONTEND], created.access_token, scopes=["orders:read"])
    request = pb.IntrospectRequest(token=exchanged.access_token, audience="orders-api")
    assert (await mesh[ORDERS].Introspect(request)).active
    await mesh[FRONTEND].Revoke(pb.RevokeRequest(session_id=created.session.session_id))
    assert not (await mesh[ORDERS].Introspect(request)).active
    async with expect_error(*SUBJECT_INVALID):
        await _exchange(mesh[ORDERS], exchanged.access_token, audience="payments-api")
    async with expect_error(*SUBJECT_INVALID):
        await _exchange(mesh[FRONTEND], created.access_token, scopes=["orders:read"])


async def test_certificate_bound_token_is_usable_only_with_that_certificate(mesh: Mesh) -> None:
    created = await _login(mesh)
    bound = await _exchange(
        mesh[ORDERS], created.access_token, audience="orders-api", bind_to_caller_certificate=True
    )
    claims = await _joserfc_claims(mesh, bound.access_token)
    assert claims["cnf"] == {"x5t#S256": _x5t(mesh.certs[ORDERS])}
    introspected = await mesh[ORDERS].Introspect(
        pb.IntrospectRequest(token=bound.access_token, audience="orders-api")
    )
    assert introspected.active and introspected.cnf.x5t_s256 == _x5t(mesh.certs[ORDERS])
    # As a subject token it is only the certificate holder's.
    async with expect_error(*SUBJECT_INVALID):
        await _exchange(mesh[RELAY], bound.access_token, audience="payments-api")
    onward = await _exchange(mesh[ORDERS], bound.access_token, audience="payments-api")
    assert "cnf" not in await _joserfc_claims(mesh, onward.access_token)


async def test_dpop_bound_and_foreign_subject_tokens_are_refused(mesh: Mesh) -> None:
    uri = "https://login.example.com/session"
    proof = pb.DpopProof(proof=make_proof(new_key(), htu=uri), http_method="POST", http_uri=uri)
    bound = await _login(mesh, dpop=proof)
    async with expect_error(*SUBJECT_INVALID):
        await _exchange(mesh[RELAY], bound.access_token, audience="billing")
    for junk in ("not-a-token", bound.refresh_token):
        async with expect_error(*SUBJECT_INVALID):
            await _exchange(mesh[RELAY], junk, audience="billing")


async def test_bad_requests_are_invalid_arguments(mesh: Mesh) -> None:
    created = await _login(mesh)
    for fields in (
        {"audience": ""},
        {"audience": "has space"},
        {"audience": "*"},
        {"audience": "billing", "scopes": ["a b"]},
        {"audience": "billing", "ttl_seconds": -1},
    ):
        async with expect_error(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT") as errors:
            await _exchange(mesh[RELAY], created.access_token, **fields)
        assert error_details(errors[0]).reason == "INVALID_ARGUMENT"
    async with expect_error(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"):
        await mesh[ORDERS].Introspect(pb.IntrospectRequest(token=created.access_token, audience="a b"))


async def test_a_caller_without_identity_cannot_exchange(svc: Running) -> None:
    created = await svc.stub.Create(pb.CreateRequest(user_id="alice"))
    async with expect_error(grpc.StatusCode.UNAUTHENTICATED, "CALLER_UNAUTHENTICATED"):
        await svc.stub.Exchange(pb.ExchangeRequest(subject_token=created.access_token, audience="orders-api"))


async def test_impersonation_session_names_the_operator_everywhere_and_is_never_refreshed(
    start_mesh: MeshFactory, caplog: pytest.LogCaptureFixture
) -> None:
    mesh = await start_mesh(impersonation_max_ttl=600)
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER_NAME)
    created = await mesh[SUPPORT].Create(
        pb.CreateRequest(user_id="alice", scopes=["orders:read"], impersonator=OPERATOR)
    )
    session = created.session
    assert session.impersonator == OPERATOR
    assert session.absolute_expires_at.seconds - session.created_at.seconds == 600
    assert (await _joserfc_claims(mesh, created.access_token))["act"] == {"sub": OPERATOR}
    introspected = await mesh[SUPPORT].Introspect(pb.IntrospectRequest(token=created.access_token))
    assert introspected.active and json.loads(introspected.act) == {"sub": OPERATOR}
    got = await mesh[SUPPORT].Get(pb.GetRequest(session_id=session.session_id))
    assert got.session.impersonator == OPERATOR
    own = await mesh[FRONTEND].Create(pb.CreateRequest(user_id="alice"))
    listed = await mesh[SUPPORT].List(pb.ListRequest(user_id="alice"))
    assert {s.session_id: s.impersonator for s in listed.sessions} == {
        session.session_id: OPERATOR,
        own.session.session_id: "",
    }
    async with expect_error(grpc.StatusCode.UNAUTHENTICATED, "REFRESH_TOKEN_INVALID"):
        await mesh[SUPPORT].Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    # Exchanged further, the operator stays in the chain behind the service.
    exchanged = await _exchange(mesh[RELAY], created.access_token, audience="billing")
    claims = await _joserfc_claims(mesh, exchanged.access_token)
    assert claims["act"] == {"sub": RELAY, "act": {"sub": OPERATOR}}

    lines = [
        json.loads(r.getMessage()) for r in caplog.records if '"impersonation_started"' in r.getMessage()
    ]
    assert len(lines) == 1
    assert lines[0]["caller"] == SUPPORT and lines[0]["impersonator"] == OPERATOR
    assert lines[0]["session_id"] == session.session_id and lines[0]["user_id"] == "alice"


async def test_the_end_of_an_impersonation_session_is_audited_with_its_operator(
    start_mesh: MeshFactory, caplog: pytest.LogCaptureFixture
) -> None:
    mesh = await start_mesh(max_sessions_per_user=2)
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER_NAME)

    async def impersonate(user_id: str) -> str:
        created = await mesh[SUPPORT].Create(pb.CreateRequest(user_id=user_id, impersonator=OPERATOR))
        return str(created.session.session_id)

    def ended() -> list[dict[str, Any]]:
        lines = [json.loads(r.getMessage()) for r in caplog.records]
        return [line for line in lines if line["event"] == "impersonation_ended"]

    by_id = await impersonate("alice")
    await mesh[SUPPORT].Revoke(pb.RevokeRequest(session_id=by_id))
    by_token = await mesh[SUPPORT].Create(pb.CreateRequest(user_id="alice", impersonator=OPERATOR))
    await mesh[SUPPORT].Revoke(pb.RevokeRequest(access_token=by_token.access_token))
    everywhere = await impersonate("bob")
    own = await mesh[FRONTEND].Create(pb.CreateRequest(user_id="bob"))
    await mesh[SUPPORT].Revoke(pb.RevokeRequest(user_id="bob"))
    evicted = await impersonate("carol")
    await mesh[FRONTEND].Create(pb.CreateRequest(user_id="carol"))
    await mesh[FRONTEND].Create(pb.CreateRequest(user_id="carol"))  # the third pushes out the oldest

    assert [
        (e["session_id"], e["user_id"], e["impersonator"], e["reason"], e["caller"]) for e in ended()
    ] == [
        (by_id, "alice", OPERATOR, "logout", SUPPORT),
        (by_token.session.session_id, "alice", OPERATOR, "logout", SUPPORT),
        (everywhere, "bob", OPERATOR, "logout_everywhere", SUPPORT),
        (evicted, "carol", OPERATOR, "session_limit_eviction", FRONTEND),
    ]
    # The user's own sessions end without such a line; a repeat ends nothing and says nothing.
    assert own.session.session_id not in {e["session_id"] for e in ended()}
    await mesh[SUPPORT].Revoke(pb.RevokeRequest(session_id=by_id))
    assert len(ended()) == 4


async def test_impersonation_default_lifetime_is_capped(mesh: Mesh) -> None:
    created = await mesh[SUPPORT].Create(pb.CreateRequest(user_id="alice", impersonator=OPERATOR))
    session = created.session
    assert session.absolute_expires_at.seconds - session.created_at.seconds == 1800
    assert created.access_token_expires_at.seconds <= session.absolute_expires_at.seconds


async def test_only_callers_the_policy_lets_impersonate_may(mesh: Mesh, svc: Running) -> None:
    async with expect_error(grpc.StatusCode.PERMISSION_DENIED, "CALLER_NOT_ALLOWED"):
        await mesh[FRONTEND].Create(pb.CreateRequest(user_id="alice", impersonator=OPERATOR))
    # Without a policy nobody may.
    async with expect_error(grpc.StatusCode.PERMISSION_DENIED, "CALLER_NOT_ALLOWED"):
        await svc.stub.Create(pb.CreateRequest(user_id="alice", impersonator=OPERATOR))
    async with expect_error(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"):
        await mesh[SUPPORT].Create(pb.CreateRequest(user_id="alice", impersonator="x" * 300))
