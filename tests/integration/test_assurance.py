"""How and when the user authenticated (acr, amr, auth_time) and Reauthenticate, over a
real gRPC channel on a single Redis and a cluster: Create records the authentication,
Get/List/Introspect and the access tokens (verified by joserfc) show it; Reauthenticate
moves the session to a new id (no fixation), ending the old id and its tokens."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from joserfc import jwt
from joserfc.jwk import KeySet
from session_wire.ext_authz import attribute_context_pb2, external_auth_pb2, external_auth_pb2_grpc
from session_wire.v1 import session_pb2 as pb

from tests.conftest import Running, expect_error
from tests.dpop_proofs import make_proof, new_key

INVALID = (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
NOT_FOUND = (grpc.StatusCode.NOT_FOUND, "SESSION_NOT_FOUND")
LOGIN = "https://login.example.com/session"
STEP_UP = "https://login.example.com/step-up"


def _at(seconds: float) -> Timestamp:
    ts = Timestamp()
    ts.FromMilliseconds(int(seconds * 1000))
    return ts


async def _claims(svc: Running, token: str) -> dict[str, Any]:
    """The access token's claims, its signature verified by joserfc with the service's JWKS."""
    jwks = json.loads((await svc.stub.GetJwks(pb.GetJwksRequest())).jwks_json)
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["EdDSA", "ES256", "RS256"])
    return dict(decoded.claims)


async def _envoy_allows(svc: Running, token: str) -> bool:
    """Whether Envoy's Check (on the service's gRPC port) lets a request with the token through."""
    http = attribute_context_pb2.AttributeContext.HttpRequest(
        method="GET", path="/", host="shop.example", headers={"authorization": f"Bearer {token}"}
    )
    request = external_auth_pb2.CheckRequest(
        attributes=attribute_context_pb2.AttributeContext(
            request=attribute_context_pb2.AttributeContext.Request(http=http)
        )
    )
    response = await external_auth_pb2_grpc.AuthorizationStub(svc.channel).Check(request)
    return bool(response.status.code == 0)


async def test_create_records_the_authentication_and_every_view_shows_it(svc: Running) -> None:
    when = int(time.time()) - 120
    created = await svc.stub.Create(
        pb.CreateRequest(user_id="alice", acr="mfa", amr=["pwd", "otp", "pwd"], auth_time=_at(when))
    )
    session = created.session
    assert (session.acr, list(session.amr), session.auth_time.seconds) == ("mfa", ["pwd", "otp"], when)
    got = (await svc.stub.Get(pb.GetRequest(session_id=session.session_id))).session
    assert (got.acr, list(got.amr), got.auth_time.seconds) == ("mfa", ["pwd", "otp"], when)
    [listed] = (await svc.stub.List(pb.ListRequest(user_id="alice"))).sessions
    assert (listed.acr, list(listed.amr), listed.auth_time.seconds) == ("mfa", ["pwd", "otp"], when)
    claims = await _claims(svc, created.access_token)
    assert (claims["acr"], claims["amr"], claims["auth_time"]) == ("mfa", ["pwd", "otp"], when)
    introspected = await svc.stub.Introspect(pb.IntrospectRequest(token=created.access_token))
    assert introspected.active
    assert (introspected.acr, list(introspected.amr), introspected.auth_time) == ("mfa", ["pwd", "otp"], when)
    refreshed = await svc.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    assert (await _claims(svc, refreshed.access_token))["auth_time"] == when


async def test_auth_time_defaults_to_now_and_acr_and_amr_to_nothing(svc: Running) -> None:
    before = int(time.time())
    created = await svc.stub.Create(pb.CreateRequest(user_id="alice"))
    assert before <= created.session.auth_time.seconds <= int(time.time()) + 1
    claims = await _claims(svc, created.access_token)
    assert "acr" not in claims and "amr" not in claims
    assert claims["auth_time"] == created.session.auth_time.seconds


async def test_a_malformed_authentication_is_invalid_and_stores_nothing(svc: Running) -> None:
    malformed = [
        pb.CreateRequest(user_id="alice", amr=[f"m{i}" for i in range(17)]),
        pb.CreateRequest(user_id="alice", amr=["one two"]),
        pb.CreateRequest(user_id="alice", amr=["x" * 33]),
        pb.CreateRequest(user_id="alice", amr=[""]),
        pb.CreateRequest(user_id="alice", acr='say "hi"'),
        pb.CreateRequest(user_id="alice", acr="a" * 257),
        pb.CreateRequest(user_id="alice", auth_time=_at(time.time() + 3600)),
        pb.CreateRequest(user_id="alice", auth_time=_at(-10)),
    ]
    for request in malformed:
        async with expect_error(*INVALID):
            await svc.stub.Create(request)
    assert not (await svc.stub.List(pb.ListRequest(user_id="alice"))).sessions


async def test_reauthenticate_moves_the_session_to_a_new_id_and_ends_the_old_one(svc: Running) -> None:
    old = await svc.stub.Create(
        pb.CreateRequest(
            user_id="alice",
            acr="pwd",
            amr=["pwd"],
            data={"cart": b"3 items"},
            scopes=["orders:read"],
            client_id="web",
            client=pb.ClientInfo(ip="192.0.2.1", user_agent="Firefox", device="laptop"),
        )
    )
    old_id = old.session.session_id
    watch = svc.stub.WatchRevocations(pb.WatchRevocationsRequest())
    again = await svc.stub.Reauthenticate(
        pb.ReauthenticateRequest(session_id=old_id, acr="mfa", amr=["pwd", "otp"])
    )
    new = again.session
    assert new.session_id != old_id and new.session_id.split(".")[0] == old_id.split(".")[0]
    assert (new.acr, list(new.amr)) == ("mfa", ["pwd", "otp"])
    assert new.auth_time.seconds >= old.session.auth_time.seconds
    # What the session held carries over.
    assert dict(new.data) == {"cart": b"3 items"} and list(new.scopes) == ["orders:read"]
    assert (new.client_id, new.client.device, new.client.ip) == ("web", "laptop", "192.0.2.1")
    assert new.absolute_expires_at == old.session.absolute_expires_at
    assert new.created_at == old.session.created_at
    # The old id is gone, with its tokens; the new ones work.
    async with expect_error(*NOT_FOUND):
        await svc.stub.Get(pb.GetRequest(session_id=old_id))
    assert not (await svc.stub.Introspect(pb.IntrospectRequest(token=old.access_token))).active
    assert not (await svc.stub.Introspect(pb.IntrospectRequest(token=old.refresh_token))).active
    assert not await _envoy_allows(svc, old.access_token)
    async with expect_error(grpc.StatusCode.UNAUTHENTICATED, "REFRESH_TOKEN_INVALID"):
        await svc.stub.Refresh(pb.RefreshRequest(refresh_token=old.refresh_token))
    assert (await svc.stub.Introspect(pb.IntrospectRequest(token=again.access_token))).active
    assert await _envoy_allows(svc, again.access_token)
    claims = await _claims(svc, again.access_token)
    assert (claims["sid"], claims["acr"], claims["amr"]) == (new.session_id, "mfa", ["pwd", "otp"])
    refreshed = await svc.stub.Refresh(pb.RefreshRequest(refresh_token=again.refresh_token))
    assert refreshed.session.session_id == new.session_id and dict(refreshed.session.data) == {
        "cart": b"3 items"
    }
    [listed] = (await svc.stub.List(pb.ListRequest(user_id="alice"))).sessions
    assert listed.session_id == new.session_id
    # Verifiers learn it from the feed, with its reason.
    rotated = []
    async with asyncio.timeout(5):
        async for response in watch:
            rotated += [
                (list(r.session_ids), r.reason)
                for r in response.revocations
                if r.reason == pb.REVOCATION_REASON_SESSION_ROTATED
            ]
            if rotated:
                break
    watch.cancel()
    assert rotated == [([old_id], pb.REVOCATION_REASON_SESSION_ROTATED)]
    # The old id cannot be re-authenticated again.
    async with expect_error(*NOT_FOUND):
        await svc.stub.Reauthenticate(pb.ReauthenticateRequest(session_id=old_id))


async def test_a_dpop_bound_session_reauthenticates_only_with_a_proof_by_its_key(svc: Running) -> None:
    key, other = new_key("ES256"), new_key("ES256")
    created = await svc.stub.Create(
        pb.CreateRequest(
            user_id="alice",
            dpop=pb.DpopProof(proof=make_proof(key, htu=LOGIN), http_method="POST", http_uri=LOGIN),
        )
    )
    sid = created.session.session_id
    for proof in (None, make_proof(other, htu=STEP_UP)):
        request = pb.ReauthenticateRequest(session_id=sid, acr="mfa")
        if proof is not None:
            request.dpop.CopyFrom(pb.DpopProof(proof=proof, http_method="POST", http_uri=STEP_UP))
        async with expect_error(grpc.StatusCode.UNAUTHENTICATED, "DPOP_PROOF_INVALID"):
            await svc.stub.Reauthenticate(request)
    # Nothing changed; a proof by the session's key moves it, still bound.
    assert (await svc.stub.Get(pb.GetRequest(session_id=sid))).session.acr == ""
    moved = await svc.stub.Reauthenticate(
        pb.ReauthenticateRequest(
            session_id=sid,
            acr="mfa",
            dpop=pb.DpopProof(proof=make_proof(key, htu=STEP_UP), http_method="POST", http_uri=STEP_UP),
        )
    )
    assert moved.session.cnf.jkt == key.thumbprint()
    assert (await _claims(svc, moved.access_token))["cnf"] == {"jkt": key.thumbprint()}


async def test_reauthenticate_refuses_a_malformed_request(svc: Running) -> None:
    created = await svc.stub.Create(pb.CreateRequest(user_id="alice"))
    for request in (
        pb.ReauthenticateRequest(),
        pb.ReauthenticateRequest(session_id="not-a-session-id"),
        pb.ReauthenticateRequest(session_id=created.session.session_id, amr=["a b"]),
        pb.ReauthenticateRequest(session_id=created.session.session_id, auth_time=_at(time.time() + 600)),
    ):
        async with expect_error(*INVALID):
            await svc.stub.Reauthenticate(request)
    assert (await svc.stub.Get(pb.GetRequest(session_id=created.session.session_id))).session
