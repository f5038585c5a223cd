"""Activity and risk signals over a real gRPC channel, on a single Redis and a cluster:
Refresh and Envoy's Check record the session's last client (throttled), and each risk
signal is recorded, stepped up or ends the session as configured."""

from __future__ import annotations

import json
import logging
from typing import Any

import grpc
import pytest
from session_wire.ext_authz import attribute_context_pb2, external_auth_pb2, external_auth_pb2_grpc
from session_wire.v1 import session_pb2 as pb

from session_service.audit import AUDIT_LOGGER_NAME
from tests.conftest import Running, ServiceFactory, expect_error

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
FIREFOX_NEXT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
INVALID = (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
REAUTH = (grpc.StatusCode.UNAUTHENTICATED, "REAUTHENTICATION_REQUIRED")


def _risk_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == AUDIT_LOGGER_NAME]
    return [
        {k: e[k] for k in ("signal", "action", "previous", "current")}
        for e in events
        if e["event"] == "session_risk"
    ]


def _signals(svc: Running, signal: str, action: str) -> float:
    telemetry = svc.service.telemetry
    assert telemetry is not None
    value = telemetry.metrics.registry.get_sample_value(
        "session_service_session_risk_signals_total", {"signal": signal, "action": action}
    )
    return value or 0.0


async def _refresh(
    svc: Running, token: str, ip: str = "", ua: str = "", device: str = ""
) -> pb.RefreshResponse:
    refreshed: pb.RefreshResponse = await svc.stub.Refresh(
        pb.RefreshRequest(refresh_token=token, client=pb.ClientInfo(ip=ip, user_agent=ua, device=device))
    )
    return refreshed


async def _seen_at(svc: Running, session_id: str) -> bytes | None:
    tag, nonce = session_id.split(".")
    value: bytes | None = await svc.redis.hget(f"{svc.prefix}:{{{tag}}}:s:{nonce}", "lseen")
    return value


async def test_refresh_records_the_last_client_at_most_once_a_minute_unless_it_changes(svc: Running) -> None:
    created = await svc.stub.Create(pb.CreateRequest(user_id="alice", client=pb.ClientInfo(device="laptop")))
    sid = created.session.session_id
    assert not created.session.HasField("last_client")
    first = await _refresh(svc, created.refresh_token, "192.0.2.10", FIREFOX)
    assert (first.session.client.device, first.session.client.ip) == ("laptop", "")
    got = (await svc.stub.Get(pb.GetRequest(session_id=sid))).session
    assert (got.last_client.ip, got.last_client.user_agent) == ("192.0.2.10", FIREFOX)
    written = await _seen_at(svc, sid)
    # The same client again: nothing written; a changed one is written at once.
    second = await _refresh(svc, first.refresh_token, "192.0.2.10", FIREFOX)
    assert await _seen_at(svc, sid) == written
    await _refresh(svc, second.refresh_token, "192.0.2.10", FIREFOX, device="laptop 2")
    [listed] = (await svc.stub.List(pb.ListRequest(user_id="alice"))).sessions
    assert (listed.last_client.ip, listed.last_client.device) == ("192.0.2.10", "laptop 2")
    assert listed.last_active_at.ToMilliseconds() >= created.session.last_active_at.ToMilliseconds()


async def test_a_malformed_client_address_is_invalid_and_changes_nothing(svc: Running) -> None:
    created = await svc.stub.Create(pb.CreateRequest(user_id="alice"))
    for ip in (
        "192.0.2",
        "192.0.2.300",
        "2001:db8::1::2",
        "192.0.2.0/24",
        "fe80::1%eth0",
        " 192.0.2.1",
        "host",
    ):
        async with expect_error(*INVALID):
            await _refresh(svc, created.refresh_token, ip)
        async with expect_error(*INVALID):
            await svc.stub.Create(pb.CreateRequest(user_id="bob", client=pb.ClientInfo(ip=ip)))
    assert await _seen_at(svc, created.session.session_id) is None
    assert not (await svc.stub.List(pb.ListRequest(user_id="bob"))).sessions
    # The refresh token did not rotate: it still works.
    await _refresh(svc, created.refresh_token, "::ffff:192.0.2.1")


async def test_network_and_browser_changes_are_recorded_with_both_values(
    svc: Running, caplog: pytest.LogCaptureFixture
) -> None:
    created = await svc.stub.Create(pb.CreateRequest(user_id="alice"))
    token = (await _refresh(svc, created.refresh_token, "192.0.2.10", FIREFOX)).refresh_token
    with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER_NAME):
        # The same /24 (an IPv4-mapped spelling too) and a version bump: no signal.
        token = (await _refresh(svc, token, "::ffff:192.0.2.99", FIREFOX_NEXT)).refresh_token
        assert _risk_events(caplog) == []
        token = (await _refresh(svc, token, "198.51.100.7", SAFARI_IPHONE)).refresh_token
    assert _risk_events(caplog) == [
        {
            "signal": "network_change",
            "action": "record",
            "previous": "192.0.2.0/24",
            "current": "198.51.100.0/24",
        },
        {
            "signal": "concurrent_networks",
            "action": "record",
            "previous": "192.0.2.0/24",
            "current": "198.51.100.0/24",
        },
        {
            "signal": "user_agent_change",
            "action": "record",
            "previous": "Firefox/Windows",
            "current": "Safari/iOS",
        },
    ]
    assert _signals(svc, "network_change", "record") == 1
    # IPv6 networks are /48s.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER_NAME):
        token = (await _refresh(svc, token, "2001:db8:1::1", SAFARI_IPHONE)).refresh_token
        caplog.clear()
        token = (await _refresh(svc, token, "2001:db8:1:ffff::2", SAFARI_IPHONE)).refresh_token
        assert _risk_events(caplog) == []
        await _refresh(svc, token, "2001:db8:2::1", SAFARI_IPHONE)
    assert [e["current"] for e in _risk_events(caplog) if e["signal"] == "network_change"] == [
        "2001:db8:2::/48"
    ]


async def test_step_up_stops_refreshes_and_access_tokens_until_reauthenticate(
    start_service: ServiceFactory,
) -> None:
    svc = await start_service(risk_network_change="step_up")
    created = await svc.stub.Create(pb.CreateRequest(user_id="alice"))
    at_home = await _refresh(svc, created.refresh_token, "192.0.2.10", FIREFOX)
    async with expect_error(*REAUTH):
        await _refresh(svc, at_home.refresh_token, "203.0.113.5", FIREFOX)
    assert _signals(svc, "network_change", "step_up") == 1
    assert not (await svc.stub.Introspect(pb.IntrospectRequest(token=at_home.access_token))).active
    assert not (await svc.stub.Introspect(pb.IntrospectRequest(token=at_home.refresh_token))).active
    async with expect_error(*REAUTH):
        await _refresh(svc, at_home.refresh_token, "203.0.113.5", FIREFOX)
    # The session is there, waiting for its user to authenticate again.
    sid = created.session.session_id
    assert (await svc.stub.Get(pb.GetRequest(session_id=sid))).session.last_client.ip == "203.0.113.5"
    again = await svc.stub.Reauthenticate(pb.ReauthenticateRequest(session_id=sid, acr="mfa"))
    assert (await svc.stub.Introspect(pb.IntrospectRequest(token=again.access_token))).active
    refreshed = await _refresh(svc, again.refresh_token, "203.0.113.5", FIREFOX)
    assert refreshed.session.session_id == again.session.session_id


async def test_revoke_ends_the_session_on_a_browser_change(start_service: ServiceFactory) -> None:
    svc = await start_service(risk_user_agent_change="revoke", risk_network_change="ignore")
    created = await svc.stub.Create(pb.CreateRequest(user_id="alice"))
    first = await _refresh(svc, created.refresh_token, "192.0.2.10", FIREFOX)
    async with expect_error(grpc.StatusCode.UNAUTHENTICATED, "REFRESH_TOKEN_INVALID"):
        await _refresh(svc, first.refresh_token, "198.51.100.7", SAFARI_IPHONE)
    async with expect_error(grpc.StatusCode.NOT_FOUND, "SESSION_NOT_FOUND"):
        await svc.stub.Get(pb.GetRequest(session_id=created.session.session_id))
    assert _signals(svc, "user_agent_change", "revoke") == 1
    assert _signals(svc, "network_change", "record") == 0


async def test_a_burst_of_refreshes_is_a_signal(start_service: ServiceFactory) -> None:
    svc = await start_service(risk_rotation_burst="step_up", risk_rotation_burst_limit=3)
    token = (await svc.stub.Create(pb.CreateRequest(user_id="alice"))).refresh_token
    for _ in range(3):
        token = (await svc.stub.Refresh(pb.RefreshRequest(refresh_token=token))).refresh_token
    async with expect_error(*REAUTH):
        await svc.stub.Refresh(pb.RefreshRequest(refresh_token=token))
    assert _signals(svc, "rotation_burst", "step_up") == 1


def _check(token: str, forwarded_for: str, ua: str = FIREFOX) -> external_auth_pb2.CheckRequest:
    http = attribute_context_pb2.AttributeContext.HttpRequest(
        method="GET",
        path="/",
        host="shop.example",
        headers={"authorization": f"Bearer {token}", "x-forwarded-for": forwarded_for, "user-agent": ua},
    )
    return external_auth_pb2.CheckRequest(
        attributes=attribute_context_pb2.AttributeContext(
            request=attribute_context_pb2.AttributeContext.Request(http=http)
        )
    )


async def test_the_gateway_records_the_client_behind_trusted_proxies_and_acts_on_signals(
    start_service: ServiceFactory,
) -> None:
    svc = await start_service(gateway_trusted_proxies=1, risk_network_change="revoke")
    envoy = external_auth_pb2_grpc.AuthorizationStub(svc.channel)
    created = await svc.stub.Create(pb.CreateRequest(user_id="alice"))
    sid, token = created.session.session_id, created.access_token
    # The client forged the first entry; the trusted proxy (a load balancer) appended the
    # client's address, and Envoy its own peer, the load balancer.
    allowed = await envoy.Check(_check(token, "6.6.6.6, 192.0.2.10, 10.0.0.2"))
    assert allowed.status.code == 0
    got = (await svc.stub.Get(pb.GetRequest(session_id=sid))).session
    assert (got.last_client.ip, got.last_client.user_agent) == ("192.0.2.10", FIREFOX)
    assert (await envoy.Check(_check(token, "192.0.2.10, 10.0.0.2"))).status.code == 0
    denied = await envoy.Check(_check(token, "203.0.113.9, 10.0.0.2"))
    assert denied.status.code == grpc.StatusCode.UNAUTHENTICATED.value[0]
    async with expect_error(grpc.StatusCode.NOT_FOUND, "SESSION_NOT_FOUND"):
        await svc.stub.Get(pb.GetRequest(session_id=sid))


async def test_a_step_up_at_the_gateway_makes_the_current_refresh_token_wait_for_reauthenticate(
    start_service: ServiceFactory,
) -> None:
    svc = await start_service(risk_network_change="step_up")
    envoy = external_auth_pb2_grpc.AuthorizationStub(svc.channel)
    created = await svc.stub.Create(pb.CreateRequest(user_id="alice"))
    assert (await envoy.Check(_check(created.access_token, "192.0.2.10"))).status.code == 0
    denied = await envoy.Check(_check(created.access_token, "203.0.113.9"))
    assert denied.status.code == grpc.StatusCode.UNAUTHENTICATED.value[0]
    assert not (await svc.stub.Introspect(pb.IntrospectRequest(token=created.refresh_token))).active
    async with expect_error(*REAUTH):
        await svc.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    assert (
        await svc.stub.Get(pb.GetRequest(session_id=created.session.session_id))
    ).session.user_id == "alice"
