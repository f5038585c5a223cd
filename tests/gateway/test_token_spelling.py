"""A token verifies under its one canonical spelling only: Introspect, IntrospectBatch, the
gateway check and forward-auth refuse every other spelling of a valid token."""

from __future__ import annotations

import aiohttp
from session_wire.v1 import session_pb2 as pb

from tests.gateway.conftest import GatewayService
from tests.token_spellings import respellable, respellings


async def _respellable_login(gateway_service: GatewayService) -> str:
    # A token whose segments have both '-'/'_' and a partial last group: every kind of variant.
    for _ in range(50):
        token = (await gateway_service.login("alice")).access_token
        if respellable(token):
            return token
    raise AssertionError("no token with every kind of respelling")


async def test_introspect_reports_a_respelled_token_inactive(gateway_service: GatewayService) -> None:
    token = await _respellable_login(gateway_service)
    assert (await gateway_service.stub.Introspect(pb.IntrospectRequest(token=token))).active
    for name, variant in respellings(token).items():
        reply = await gateway_service.stub.Introspect(pb.IntrospectRequest(token=variant))
        assert not reply.active, name
    batch = await gateway_service.stub.IntrospectBatch(
        pb.IntrospectBatchRequest(
            requests=[pb.IntrospectRequest(token=v) for v in respellings(token).values()]
        )
    )
    assert not any(r.active for r in batch.responses)


async def test_the_gateway_check_refuses_a_respelled_token(gateway_service: GatewayService) -> None:
    token = await _respellable_login(gateway_service)
    gateway = gateway_service.service.gateway
    assert gateway is not None
    assert (await gateway.check(token)).active
    for name, variant in respellings(token).items():
        assert not (await gateway.check(variant)).active, name


async def test_forward_auth_answers_401_to_a_respelled_token(gateway_service: GatewayService) -> None:
    token = await _respellable_login(gateway_service)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        for name, variant in {"canonical": token, **respellings(token)}.items():
            headers = {"Authorization": f"Bearer {variant}"}
            async with http.get(gateway_service.forward_auth_url, headers=headers) as response:
                assert response.status == (200 if name == "canonical" else 401), name
