"""DPoP-bound sessions (RFC 9449) over a real gRPC channel, on a single Redis and a cluster:
Create binds a session to the key of its proof; every Refresh needs a fresh proof by it."""

from __future__ import annotations

import json
import time
from typing import Any

import grpc
from joserfc import jws
from joserfc.jwk import KeySet
from session_client.status import error_details
from session_wire.dpop import jwk_thumbprint
from session_wire.v1 import session_pb2 as pb

from tests.conftest import Running, ServiceFactory, expect_error
from tests.dpop_proofs import Key, hmac_proof, make_proof, new_key, panva_proofs, unsigned_proof

LOGIN = "https://login.example.com/session"
REFRESH = "https://login.example.com/refresh"
INVALID = (grpc.StatusCode.UNAUTHENTICATED, "DPOP_PROOF_INVALID")


def _dpop(proof: str, uri: str, method: str = "POST") -> pb.DpopProof:
    return pb.DpopProof(proof=proof, http_method=method, http_uri=uri)


async def _create_bound(svc: Running, key: Key, user: str = "alice") -> pb.CreateResponse:
    created: pb.CreateResponse = await svc.stub.Create(
        pb.CreateRequest(user_id=user, dpop=_dpop(make_proof(key, htu=LOGIN), LOGIN))
    )
    return created


async def _refresh(svc: Running, token: str, proof: str | None, uri: str = REFRESH) -> pb.RefreshResponse:
    request = pb.RefreshRequest(refresh_token=token)
    if proof is not None:
        request.dpop.CopyFrom(_dpop(proof, uri))
    refreshed: pb.RefreshResponse = await svc.stub.Refresh(request)
    return refreshed


async def _access_token_cnf(svc: Running, token: str) -> Any:
    """The access token's cnf claim, its signature verified by joserfc with the JWKS."""
    jwks = json.loads((await svc.stub.GetJwks(pb.GetJwksRequest())).jwks_json)
    verified = jws.deserialize_compact(token, KeySet.import_key_set(jwks), algorithms=["EdDSA"])
    return json.loads(verified.payload)["cnf"]


async def test_create_with_a_joserfc_proof_binds_the_session_and_its_access_tokens(svc: Running) -> None:
    key = new_key("ES256")
    created = await _create_bound(svc, key)
    assert created.session.cnf.jkt == key.thumbprint()
    assert await _access_token_cnf(svc, created.access_token) == {"jkt": key.thumbprint()}
    introspected = await svc.stub.Introspect(pb.IntrospectRequest(token=created.access_token))
    assert introspected.active and introspected.cnf.jkt == key.thumbprint()
    got = await svc.stub.Get(pb.GetRequest(session_id=created.session.session_id))
    assert got.session.cnf.jkt == key.thumbprint()
    refreshed = await _refresh(svc, created.refresh_token, make_proof(key, htu=REFRESH))
    assert refreshed.session.cnf.jkt == key.thumbprint()
    assert await _access_token_cnf(svc, refreshed.access_token) == {"jkt": key.thumbprint()}


async def test_a_session_bound_by_a_proof_of_panvas_dpop_refreshes_with_the_same_key(svc: Running) -> None:
    jwk, (login, refresh), _ = panva_proofs(
        [{"htm": "POST", "htu": LOGIN}, {"htm": "POST", "htu": REFRESH + "?ignored=1"}]
    )
    created = await svc.stub.Create(pb.CreateRequest(user_id="alice", dpop=_dpop(login, LOGIN)))
    assert created.session.cnf.jkt == jwk_thumbprint(jwk)
    refreshed = await _refresh(svc, created.refresh_token, refresh)
    assert await _access_token_cnf(svc, refreshed.access_token) == {"jkt": jwk_thumbprint(jwk)}


async def test_a_bound_sessions_refresh_without_a_good_proof_is_refused_and_changes_nothing(
    svc: Running,
) -> None:
    key, other = new_key("ES256"), new_key("ES256")
    created = await _create_bound(svc, key)
    token = created.refresh_token
    stale = make_proof(key, htu=REFRESH, iat=time.time() - 600)
    refused: list[tuple[str, str | None, str]] = [
        ("no proof", None, REFRESH),
        ("another key", make_proof(other, htu=REFRESH), REFRESH),
        ("wrong htm", make_proof(key, htm="GET", htu=REFRESH), REFRESH),
        ("wrong htu", make_proof(key, htu=LOGIN), REFRESH),
        ("stale iat", stale, REFRESH),
        ("alg none", unsigned_proof(key, "POST", REFRESH), REFRESH),
        ("HS256", hmac_proof("POST", REFRESH), REFRESH),
        ("not a JWS", "not-a-proof", REFRESH),
    ]
    for what, proof, uri in refused:
        async with expect_error(*INVALID):
            await _refresh(svc, token, proof, uri)
        assert what
    # Nothing changed: the same refresh token still rotates, with a good proof.
    refreshed = await _refresh(svc, token, make_proof(key, htu=REFRESH))
    assert refreshed.session.session_id == created.session.session_id


async def test_a_replayed_proof_is_refused_and_the_refresh_token_still_works(svc: Running) -> None:
    key = new_key("EdDSA")
    created = await svc.stub.Create(
        pb.CreateRequest(user_id="alice", dpop=_dpop(make_proof(key, "EdDSA", htu=LOGIN), LOGIN))
    )
    proof = make_proof(key, "EdDSA", htu=REFRESH)
    refreshed = await _refresh(svc, created.refresh_token, proof)
    async with expect_error(*INVALID) as caught:
        await _refresh(svc, refreshed.refresh_token, proof)
    assert "jti" in error_details(caught[0]).message
    again = await _refresh(svc, refreshed.refresh_token, make_proof(key, "EdDSA", htu=REFRESH))
    assert again.session.cnf.jkt == key.thumbprint()


async def test_a_malformed_or_replayed_proof_on_create_is_refused(svc: Running) -> None:
    async with expect_error(*INVALID):
        await svc.stub.Create(pb.CreateRequest(user_id="alice", dpop=_dpop("a.b.c", LOGIN)))
    proof = make_proof(new_key("ES256"), htu=LOGIN)
    await svc.stub.Create(pb.CreateRequest(user_id="alice", dpop=_dpop(proof, LOGIN)))
    async with expect_error(*INVALID):
        await svc.stub.Create(pb.CreateRequest(user_id="alice", dpop=_dpop(proof, LOGIN)))
    async with expect_error(*INVALID):
        await svc.stub.Create(pb.CreateRequest(user_id="alice", dpop=_dpop(hmac_proof("POST", LOGIN), LOGIN)))


async def test_a_proof_on_an_unbound_sessions_refresh_is_checked_but_binds_nothing(svc: Running) -> None:
    created = await svc.stub.Create(pb.CreateRequest(user_id="alice"))
    assert not created.session.HasField("cnf")
    key = new_key("ES256")
    async with expect_error(*INVALID):
        await _refresh(svc, created.refresh_token, make_proof(key, htu=LOGIN))
    refreshed = await _refresh(svc, created.refresh_token, make_proof(key, htu=REFRESH))
    assert not refreshed.session.HasField("cnf")
    introspected = await svc.stub.Introspect(pb.IntrospectRequest(token=refreshed.access_token))
    assert introspected.active and not introspected.HasField("cnf")


async def test_with_server_nonces_a_proof_without_one_gets_the_nonce_to_use(
    start_service: ServiceFactory,
) -> None:
    svc = await start_service(dpop_nonces=True)
    key = new_key("ES256")
    async with expect_error(*INVALID) as caught:
        await _create_bound(svc, key)
    metadata = error_details(caught[0]).metadata
    assert metadata["error"] == "use_dpop_nonce" and metadata["dpop_nonce"]
    nonce = metadata["dpop_nonce"]
    proof = make_proof(key, htu=LOGIN, claims={"nonce": nonce})
    created = await svc.stub.Create(pb.CreateRequest(user_id="alice", dpop=_dpop(proof, LOGIN)))
    async with expect_error(*INVALID) as caught:
        await _refresh(svc, created.refresh_token, make_proof(key, htu=REFRESH, claims={"nonce": "old"}))
    assert error_details(caught[0]).metadata["dpop_nonce"] == nonce
    refreshed = await _refresh(
        svc, created.refresh_token, make_proof(key, htu=REFRESH, claims={"nonce": nonce})
    )
    assert refreshed.session.cnf.jkt == key.thumbprint()
