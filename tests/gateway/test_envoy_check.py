"""Envoy external authorization over gRPC: real CheckRequests, as Envoy sends them,
to ``envoy.service.auth.v3.Authorization/Check`` on the service's gRPC port (no Envoy
binary can be installed here, so a gRPC client plays Envoy)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import session_wire
from google.rpc import code_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from session_wire.ext_authz import attribute_context_pb2, base_pb2, external_auth_pb2, external_auth_pb2_grpc
from session_wire.ext_authz import http_status_pb2 as http_status

from session_service.store.embedded import RedisServerProcess
from session_service.tokens.keyring import Keyring
from tests.conftest import expect_error
from tests.gateway.conftest import GatewayService, gateway_checks, start_gateway_service, stop_gateway_service
from tests.integration.test_telemetry import OtlpReceiver, _export_to, otlp_receiver

__all__ = ["otlp_receiver"]  # a fixture, imported for the OTLP test below

Http = attribute_context_pb2.AttributeContext.HttpRequest


def check_request(headers: dict[str, str], *, raw: bool = False) -> external_auth_pb2.CheckRequest:
    """A CheckRequest as Envoy builds it: lower-case header names, in the map or, with
    encode_raw_headers, in header_map."""
    lowered = {k.lower(): v for k, v in headers.items()}
    http = Http(id="req-1", method="GET", path="/orders?x=1", host="shop.example", scheme="https")
    if raw:
        http.header_map.headers.extend(
            base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in lowered.items()
        )
    else:
        http.headers.update({":authority": "shop.example", ":path": "/orders?x=1", **lowered})
    return external_auth_pb2.CheckRequest(
        attributes=attribute_context_pb2.AttributeContext(
            request=attribute_context_pb2.AttributeContext.Request(http=http)
        )
    )


@pytest.fixture
async def envoy(gateway_service: GatewayService) -> AsyncIterator[Any]:
    """An Authorization stub on the service's gRPC port."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway_service.service.port}") as channel:
        yield external_auth_pb2_grpc.AuthorizationStub(channel)


def _set(response: external_auth_pb2.CheckResponse) -> dict[str, str]:
    return {o.header.key: o.header.value for o in response.ok_response.headers}


async def test_check_allows_a_valid_token_and_sets_the_identity_headers(
    envoy: Any, gateway_service: GatewayService
) -> None:
    created = await gateway_service.login("alice", scopes=["read"], client_id="web")
    allowed_before = gateway_checks(gateway_service, "envoy", "allowed")
    for raw in (False, True):
        response = await envoy.Check(
            check_request(
                {"Authorization": f"Bearer {created.access_token}", "x-user-id": "mallory"}, raw=raw
            )
        )
        assert response.status.code == code_pb2.OK
        assert response.WhichOneof("http_response") == "ok_response"
        assert _set(response) == {
            "x-user-id": "alice",
            "x-session-id": created.session.session_id,
            "x-scopes": "read",
            "x-client-id": "web",
        }
        # Overwrite, not append: the client's x-user-id is replaced, never kept beside ours.
        assert {o.append_action for o in response.ok_response.headers} == {
            base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
        }
    assert gateway_checks(gateway_service, "envoy", "allowed") == allowed_before + 2


async def test_check_removes_incoming_identity_headers_it_has_no_value_for(
    envoy: Any, gateway_service: GatewayService
) -> None:
    created = await gateway_service.login("alice")  # no scopes, no client_id
    response = await envoy.Check(
        check_request({"Cookie": f"session_token={created.access_token}", "x-client-id": "admin"})
    )
    assert response.status.code == code_pb2.OK
    assert set(_set(response)) == {"x-user-id", "x-session-id"}
    assert set(response.ok_response.headers_to_remove) == {"x-scopes", "x-client-id"}


@pytest.mark.parametrize(
    ("headers", "challenge"),
    [
        ({}, "Bearer"),
        ({"authorization": "Bearer not-a-jwt"}, 'Bearer error="invalid_token"'),
        ({"authorization": "Basic YWxpY2U6c2VjcmV0"}, "Bearer"),
        ({"cookie": "session_token=forged.token.value"}, 'Bearer error="invalid_token"'),
    ],
)
async def test_check_denies_missing_and_bad_tokens_with_401_and_a_bearer_challenge(
    envoy: Any, headers: dict[str, str], challenge: str
) -> None:
    response = await envoy.Check(check_request(headers))
    assert response.status.code == code_pb2.UNAUTHENTICATED
    denied = response.denied_response
    assert denied.status.code == http_status.Unauthorized
    www = {o.header.key: o.header.value for o in denied.headers}["www-authenticate"]
    assert www.startswith(challenge)
    assert "Traceback" not in denied.body and "Traceback" not in response.status.message


async def test_check_denies_a_revoked_session(envoy: Any, gateway_service: GatewayService) -> None:
    created = await gateway_service.login("bob")
    request = check_request({"authorization": f"Bearer {created.access_token}"})
    assert (await envoy.Check(request)).status.code == code_pb2.OK
    await gateway_service.revoke(created.session.session_id)
    async with asyncio.timeout(gateway_service.service.settings.gateway_freshness):
        while True:
            if (await envoy.Check(request)).status.code != code_pb2.OK:
                break
            await asyncio.sleep(0.01)
    assert (await envoy.Check(request)).denied_response.status.code == http_status.Unauthorized


async def test_check_is_served_with_reflection(gateway_service: GatewayService) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway_service.service.port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        async for response in responses:
            names = {s.name for s in response.list_services_response.service}
            break
    assert "envoy.service.auth.v3.Authorization" in names


async def test_check_is_guarded_by_the_caller_policy(
    tmp_path: Path, redis_server: RedisServerProcess, keyring: Keyring
) -> None:
    # "Check" is an RPC name the policy accepts; a caller the policy does not name is refused.
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"callers": {"spiffe://cluster.local/ns/istio-system/sa/gw": ["Check"]}}))
    started = await start_gateway_service(
        redis_server.url, keyring, authz_policy_file=str(policy), forward_auth_port=0
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{started.service.port}") as channel:
            async with expect_error(grpc.StatusCode.UNAUTHENTICATED, "CALLER_UNAUTHENTICATED"):
                await external_auth_pb2_grpc.AuthorizationStub(channel).Check(check_request({}))
    finally:
        await stop_gateway_service(started)


async def test_otlp_export_and_check_work_in_one_installed_environment(
    monkeypatch: pytest.MonkeyPatch,
    otlp_receiver: OtlpReceiver,
    redis_server: RedisServerProcess,
    keyring: Keyring,
) -> None:
    # xds-protos would have replaced opentelemetry-proto's modules here; ours ship none.
    wire_root = Path(session_wire.__file__).parent
    assert not list(wire_root.rglob("opentelemetry*"))
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter  # noqa: F401
    from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope  # noqa: F401

    assert importlib.util.find_spec("envoy") is None, "Envoy's own stubs must not be needed"
    _export_to(monkeypatch, otlp_receiver)
    started = await start_gateway_service(redis_server.url, keyring, forward_auth_port=0)
    try:
        assert started.service.telemetry is not None and started.service.telemetry.tracing
        created = await started.login("alice")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{started.service.port}") as channel:
            envoy = external_auth_pb2_grpc.AuthorizationStub(channel)
            response = await envoy.Check(check_request({"authorization": f"Bearer {created.access_token}"}))
        assert response.status.code == code_pb2.OK
        assert _set(response)["x-user-id"] == "alice"
        await otlp_receiver.wait_for(lambda spans: any(s.name.endswith("/Create") for s in spans))
        # Check is traced too, and its span carries nothing of the request (no token).
        await otlp_receiver.wait_for(
            lambda spans: any(s.name == "/envoy.service.auth.v3.Authorization/Check" for s in spans)
        )
        assert created.access_token not in repr(otlp_receiver.spans())
    finally:
        await stop_gateway_service(started)
