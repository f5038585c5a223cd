"""DPoP (RFC 9449) at every door: real nginx and Caddy asking forward-auth, and Envoy's
Check over gRPC. A DPoP-bound token passes only with a fresh proof by its key for the
client's own request; the refusals carry the exact challenges of section 7.1."""

from __future__ import annotations

import json

import aiohttp
import grpc
from google.rpc import code_pb2
from session_client.status import error_details
from session_wire.dpop import access_token_hash
from session_wire.ext_authz import external_auth_pb2_grpc
from session_wire.v1 import session_pb2 as pb

from session_service.store.embedded import RedisServerProcess
from session_service.tokens.keyring import Keyring
from tests.dpop_proofs import ALGORITHMS, Key, make_proof, new_key, panva_proofs
from tests.gateway.conftest import Gateway, GatewayService, start_gateway_service, stop_gateway_service
from tests.gateway.test_envoy_check import check_request

LOGIN = "https://login.example.com/session"
INVALID_PROOF = f'DPoP error="invalid_dpop_proof", algs="{ALGORITHMS}"'
INVALID_TOKEN = f'DPoP error="invalid_token", algs="{ALGORITHMS}"'
BEARER_INVALID = (
    'Bearer error="invalid_token", error_description="The access token is invalid, expired or revoked"'
)


async def _login_bound(
    service: GatewayService, key: Key, nonce_from: GatewayService | None = None
) -> pb.CreateResponse:
    """A session bound to ``key``; with ``nonce_from``, after asking that service for its nonce."""
    claims = {}
    if nonce_from is not None:
        try:
            await _login_bound(service, key)
        except grpc.aio.AioRpcError as e:
            claims["nonce"] = error_details(e).metadata["dpop_nonce"]
    proof = make_proof(key, htu=LOGIN, claims=claims)
    return await service.login("alice", dpop=pb.DpopProof(proof=proof, http_method="POST", http_uri=LOGIN))


def _proof(key: Key, token: str, htu: str, htm: str = "GET") -> str:
    return make_proof(key, htm=htm, htu=htu, claims={"ath": access_token_hash(token)})


async def _get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.get(url, headers=headers) as response,
    ):
        return response.status, {k.lower(): v for k, v in response.headers.items()}, await response.text()


async def test_a_dpop_request_passes_the_gateway_once_and_only_for_its_own_uri(
    gateway: Gateway, gateway_service: GatewayService
) -> None:
    key = new_key("ES256")
    created = await _login_bound(gateway_service, key)
    token = created.access_token
    url = f"{gateway.url}/orders"
    proof = _proof(key, token, url)
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    status, _, body = await _get(f"{url}?page=2", headers)
    assert status == 200, body
    assert json.loads(body)["x-user-id"] == "alice"

    status, answered, _ = await _get(f"{url}?page=2", headers)
    assert (status, answered["www-authenticate"]) == (401, INVALID_PROOF), "a replayed proof"
    other = {"Authorization": f"DPoP {token}", "DPoP": _proof(key, token, f"{gateway.url}/other")}
    status, answered, _ = await _get(url, other)
    assert (status, answered["www-authenticate"]) == (401, INVALID_PROOF), "a proof for another URI"
    thief = {"Authorization": f"DPoP {token}", "DPoP": _proof(new_key("ES256"), token, url)}
    status, answered, _ = await _get(url, thief)
    assert (status, answered["www-authenticate"]) == (401, INVALID_PROOF), "a proof by another key"
    status, answered, _ = await _get(url, {"Authorization": f"Bearer {token}"})
    assert (status, answered["www-authenticate"]) == (401, BEARER_INVALID), "a bound token as Bearer"
    status, _, body = await _get(url, {"Authorization": f"DPoP {token}", "DPoP": _proof(key, token, url)})
    assert status == 200, body


async def test_a_proof_by_panvas_dpop_passes_and_an_unbound_token_as_dpop_does_not(
    gateway: Gateway, gateway_service: GatewayService
) -> None:
    _, (login,), private = panva_proofs([{"htm": "POST", "htu": LOGIN}])
    created = await gateway_service.login(
        "bob", dpop=pb.DpopProof(proof=login, http_method="POST", http_uri=LOGIN)
    )
    url = f"{gateway.url}/orders"
    token = created.access_token
    _, (proof,), _ = panva_proofs([{"htm": "GET", "htu": url, "ath_token": token}], private)
    status, _, body = await _get(f"{url}?q=1", {"Authorization": f"DPoP {token}", "DPoP": proof})
    assert status == 200, body
    assert json.loads(body)["x-user-id"] == "bob"

    unbound = (await gateway_service.login("carol")).access_token
    headers = {"Authorization": f"DPoP {unbound}", "DPoP": _proof(new_key("ES256"), unbound, url)}
    status, answered, _ = await _get(url, headers)
    assert (status, answered["www-authenticate"]) == (401, INVALID_TOKEN)


async def test_envoy_check_takes_the_proofs_request_from_the_attributes(
    gateway_service: GatewayService,
) -> None:
    key = new_key("ES256")
    created = await _login_bound(gateway_service, key)
    token = created.access_token
    uri = "https://shop.example/orders"  # check_request's scheme, host and path, without the query
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway_service.service.port}") as channel:
        envoy = external_auth_pb2_grpc.AuthorizationStub(channel)
        proof = _proof(key, token, uri)
        request = check_request({"Authorization": f"DPoP {token}", "DPoP": proof})
        allowed = await envoy.Check(request)
        assert allowed.status.code == code_pb2.OK
        for what, headers in (
            ("replayed", {"Authorization": f"DPoP {token}", "DPoP": proof}),
            ("wrong URI", {"Authorization": f"DPoP {token}", "DPoP": _proof(key, token, uri + "/x")}),
        ):
            denied = await envoy.Check(check_request(headers))
            assert denied.status.code == code_pb2.UNAUTHENTICATED, what
            challenge = {o.header.key: o.header.value for o in denied.denied_response.headers}
            assert challenge["www-authenticate"] == INVALID_PROOF, what
        denied = await envoy.Check(check_request({"Authorization": f"Bearer {token}"}))
        challenge = {o.header.key: o.header.value for o in denied.denied_response.headers}
        assert challenge["www-authenticate"] == BEARER_INVALID
        unbound = await gateway_service.login("carol")
        denied = await envoy.Check(
            check_request(
                {
                    "Authorization": f"DPoP {unbound.access_token}",
                    "DPoP": _proof(key, unbound.access_token, uri),
                }
            )
        )
        challenge = {o.header.key: o.header.value for o in denied.denied_response.headers}
        assert challenge["www-authenticate"] == INVALID_TOKEN


async def test_with_server_nonces_forward_auth_hands_out_the_nonce_and_accepts_it(
    redis_server: RedisServerProcess, keyring: Keyring
) -> None:
    started = await start_gateway_service(redis_server.url, keyring, dpop_nonces=True)
    try:
        key = new_key("ES256")
        created = await _login_bound(started, key, nonce_from=started)
        token = created.access_token
        forwarded = {
            "X-Forwarded-Method": "GET",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "shop.example",
            "X-Forwarded-Uri": "/orders?x=1",
        }
        uri = "https://shop.example/orders"
        status, answered, _ = await _get(
            started.forward_auth_url,
            {**forwarded, "Authorization": f"DPoP {token}", "DPoP": _proof(key, token, uri)},
        )
        assert status == 401
        assert answered["www-authenticate"] == f'DPoP error="use_dpop_nonce", algs="{ALGORITHMS}"'
        nonce = answered["dpop-nonce"]
        proof = make_proof(key, htm="GET", htu=uri, claims={"ath": access_token_hash(token), "nonce": nonce})
        status, answered, _ = await _get(
            started.forward_auth_url, {**forwarded, "Authorization": f"DPoP {token}", "DPoP": proof}
        )
        assert (status, answered["x-user-id"]) == (200, "alice")
    finally:
        await stop_gateway_service(started)
