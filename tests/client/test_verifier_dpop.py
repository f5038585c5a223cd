"""The Verifier's DPoP check (RFC 9449) and the ASGI middleware that passes it through:
the same rules as the service's doors, with proofs made by joserfc and panva's dpop."""

from __future__ import annotations

import time

import httpx
import pytest
from session_client import DpopBindingMismatch, HttpProof, InvalidDpopProof, Verifier
from session_client.middleware.asgi import SessionAuthMiddleware, access_token
from session_wire.dpop import access_token_hash
from session_wire.v1 import session_pb2 as pb
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.client.conftest import ClientFactory, VerifierFactory
from tests.conftest import Running
from tests.dpop_proofs import ALGORITHMS, Key, make_proof, new_key, panva_proofs

LOGIN = "https://login.example.com/session"
API = "https://api.example.com/orders"


async def _bound_token(svc: Running, connect: ClientFactory, key: Key) -> str:
    client = await connect(svc)
    proof = make_proof(key, htu=LOGIN)
    created = await client.create("alice", dpop=pb.DpopProof(proof=proof, http_method="POST", http_uri=LOGIN))
    return created.access_token


async def _bound(
    svc: Running, connect: ClientFactory, start_verifier: VerifierFactory
) -> tuple[Key, str, Verifier]:
    """A key, an access token bound to it, and a started Verifier."""
    key = new_key("ES256")
    return key, await _bound_token(svc, connect, key), await start_verifier(svc)


def _request(
    key: Key, token: str, uri: str = API, method: str = "GET", iat: float | None = None
) -> HttpProof:
    proof = make_proof(key, htm=method, htu=uri, iat=iat, claims={"ath": access_token_hash(token)})
    return HttpProof(proof, method, uri)


async def test_a_bound_token_verifies_once_per_proof_and_only_with_its_key_and_request(
    svc: Running, connect: ClientFactory, start_verifier: VerifierFactory
) -> None:
    key, token, verifier = await _bound(svc, connect, start_verifier)
    request = _request(key, token, API + "?page=2")
    verified = verifier.verify(token, dpop=request)
    assert verified.cnf_jkt == key.thumbprint() and verified.subject == "alice"

    refused = {
        "replayed": request,
        "another key": _request(new_key("ES256"), token),
        "wrong htm": HttpProof(_request(key, token).proof, "POST", API),
        "wrong htu": HttpProof(_request(key, token).proof, "GET", "https://api.example.com/other"),
        "stale iat": _request(key, token, iat=time.time() - 600),
        "no proof header": HttpProof("", "GET", API),
    }
    for what, bad in refused.items():
        with pytest.raises(InvalidDpopProof):
            verifier.verify(token, dpop=bad)
        assert what
    with pytest.raises(DpopBindingMismatch):
        verifier.verify(token)  # a bound token presented as a bearer token
    _, (proof,), _ = panva_proofs([{"htm": "GET", "htu": API, "ath_token": token}])
    with pytest.raises(InvalidDpopProof):
        verifier.verify(token, dpop=HttpProof(proof, "GET", API))  # panva's key is not the token's
    assert (await verifier.verify_async(token, dpop=_request(key, token))).cnf_jkt == key.thumbprint()


async def test_a_session_bound_by_panvas_dpop_verifies_with_its_proofs(
    svc: Running, connect: ClientFactory, start_verifier: VerifierFactory
) -> None:
    client = await connect(svc)
    _, (login,), private = panva_proofs([{"htm": "POST", "htu": LOGIN}])
    created = await client.create("bob", dpop=pb.DpopProof(proof=login, http_method="POST", http_uri=LOGIN))
    token = created.access_token
    _, (proof,), _ = panva_proofs([{"htm": "GET", "htu": API, "ath_token": token}], private)
    verifier = await start_verifier(svc)
    assert verifier.verify(token, dpop=HttpProof(proof, "GET", API)).subject == "bob"


async def test_an_unbound_token_with_a_proof_is_refused(
    svc: Running, connect: ClientFactory, start_verifier: VerifierFactory
) -> None:
    client = await connect(svc)
    token = (await client.create("carol")).access_token
    verifier = await start_verifier(svc)
    with pytest.raises(DpopBindingMismatch):
        verifier.verify(token, dpop=_request(new_key("ES256"), token))
    assert verifier.verify(token).cnf_jkt == ""


async def test_the_asgi_middleware_answers_dpop_requests_with_dpop_challenges(
    svc: Running, connect: ClientFactory, start_verifier: VerifierFactory
) -> None:
    key, token, verifier = await _bound(svc, connect, start_verifier)

    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"user": access_token(request.scope).subject})

    app = Starlette(
        routes=[Route("/me", me)], middleware=[Middleware(SessionAuthMiddleware, verifier=verifier)]
    )
    uri = "http://app/me"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http:
        proof = _request(key, token, uri).proof
        headers = {"authorization": f"DPoP {token}", "dpop": proof}
        ok = await http.get("/me?x=1", headers=headers)
        assert ok.status_code == 200 and ok.json() == {"user": "alice"}
        replayed = await http.get("/me", headers=headers)
        assert replayed.status_code == 401
        assert replayed.headers["www-authenticate"] == f'DPoP error="invalid_dpop_proof", algs="{ALGORITHMS}"'
        as_bearer = await http.get("/me", headers={"authorization": f"Bearer {token}"})
        assert as_bearer.status_code == 401
        assert as_bearer.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        forged = await http.get("/me", headers={"authorization": "DPoP not-a-token", "dpop": proof})
        assert forged.headers["www-authenticate"] == f'DPoP error="invalid_token", algs="{ALGORITHMS}"'
