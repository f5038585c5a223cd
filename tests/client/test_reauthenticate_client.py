"""The Python client and sessionctl speak the assurance contract: Create's acr/amr/auth_time,
Refresh's client, Reauthenticate, and ReauthenticationRequired after a step-up."""

from __future__ import annotations

import asyncio
import datetime
import json
import sys
from pathlib import Path

import pytest
from session_client import ReauthenticationRequired, SessionNotFound, session_pb2

from tests.client.conftest import ClientFactory, target
from tests.client.test_node_example import _node, _run, _steps, built_example
from tests.conftest import Running, ServiceFactory

__all__ = ["built_example"]  # a fixture, imported for the Node.js test below


async def test_create_refresh_and_reauthenticate_through_the_client(
    svc: Running, connect: ClientFactory
) -> None:
    client = await connect(svc)
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    created = await client.create("alice", acr="pwd", amr=["pwd"], auth_time=when)
    assert (created.session.acr, created.session.auth_time.ToDatetime(tzinfo=datetime.UTC)) == ("pwd", when)
    refreshed = await client.refresh(
        created.refresh_token, client=session_pb2.ClientInfo(ip="192.0.2.1", user_agent="curl/8.5.0")
    )
    assert refreshed.session.last_client.ip == "192.0.2.1"
    again = await client.reauthenticate(created.session.session_id, acr="mfa", amr=["pwd", "otp"])
    assert again.session.session_id != created.session.session_id and again.session.acr == "mfa"
    with pytest.raises(SessionNotFound):
        await client.get(created.session.session_id)
    assert (await client.refresh(again.refresh_token)).session.session_id == again.session.session_id


async def test_create_records_the_identity_providers_session(svc: Running, connect: ClientFactory) -> None:
    client = await connect(svc)
    idp = session_pb2.IdpSession(issuer="https://idp.example.com", subject="f81d4fae", session_id="a1b2c3")
    created = await client.create("alice", idp=idp)
    assert created.session.idp == idp and (await client.get(created.session.session_id)).idp == idp
    assert not (await client.create("bob")).session.HasField("idp")


async def test_a_step_up_raises_reauthentication_required(
    start_service: ServiceFactory, connect: ClientFactory
) -> None:
    svc = await start_service(risk_network_change="step_up")
    client = await connect(svc)
    created = await client.create("alice")
    first = await client.refresh(created.refresh_token, client=session_pb2.ClientInfo(ip="192.0.2.1"))
    with pytest.raises(ReauthenticationRequired):
        await client.refresh(first.refresh_token, client=session_pb2.ClientInfo(ip="198.51.100.1"))
    again = await client.reauthenticate(created.session.session_id, acr="mfa")
    assert (await client.introspect(again.access_token)).active


async def _sessionctl(svc: Running, *args: str) -> dict[str, object]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "session_client.cli",
        "--target",
        target(svc),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    printed: dict[str, object] = json.loads(out)
    return printed


async def test_sessionctl_creates_with_an_authentication_and_reauthenticates(svc: Running) -> None:
    created = await _sessionctl(
        svc, "create", "alice", "--acr", "pwd", "--amr", "pwd", "--auth-time", "1767323045"
    )
    session = created["session"]
    assert isinstance(session, dict)
    assert (session["acr"], session["amr"], session["auth_time"]) == ("pwd", ["pwd"], "2026-01-02T03:04:05Z")
    refreshed = await _sessionctl(svc, "refresh", str(created["refresh_token"]), "--ip", "192.0.2.7")
    last = refreshed["session"]
    assert isinstance(last, dict) and last["last_client"]["ip"] == "192.0.2.7"
    again = await _sessionctl(
        svc, "reauthenticate", str(session["session_id"]), "--acr", "mfa", "--amr", "otp"
    )
    moved = again["session"]
    assert isinstance(moved, dict)
    assert moved["session_id"] != session["session_id"] and (moved["acr"], moved["amr"]) == ("mfa", ["otp"])


async def test_the_node_client_reauthenticates_and_jose_sees_the_new_authentication(
    svc: Running, built_example: Path
) -> None:
    steps = _steps(await _run(_node(), str(built_example.with_name("step_up.js")), target(svc), timeout=30))
    assert (steps["create"]["acr"], steps["create"]["amr"]) == ("pwd", ["pwd"])
    assert steps["reauthenticate"] == {
        "step": "reauthenticate",
        "acr": "mfa",
        "amr": ["pwd", "otp"],
        "new_session_id": True,
    }
    assert steps["old_token"] == {"step": "old_token", "active": False}
