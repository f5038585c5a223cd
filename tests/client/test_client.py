"""SessionClient and SyncSessionClient over real channels: typed results and errors,
deadlines, retries from the service config, and TLS/mTLS."""

from __future__ import annotations

import asyncio
import collections
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
from session_client import (
    DeadlineExceeded,
    InvalidArgument,
    RefreshTokenInvalid,
    RefreshTokenReused,
    RetryPolicy,
    ServiceUnavailable,
    SessionClient,
    SessionNotFound,
    SessionServiceError,
    SyncSessionClient,
    TlsConfig,
    VersionMismatch,
    session_pb2,
)
from session_client.cli import main as sessionctl
from session_client.client import is_local_target

from tests.client.conftest import ClientFactory, Pki, serve_manager, target
from tests.conftest import Running, ServiceFactory, free_port

Handler = Any


async def test_every_call_returns_typed_messages(svc: Running, connect: ClientFactory) -> None:
    client = await connect(svc)
    created = await client.create(
        "alice",
        claims={"tenant": "acme"},
        data={"cart": b"3"},
        scopes=["read"],
        client=session_pb2.ClientInfo(device="phone"),
        client_id="web",
    )
    sid = created.session.session_id
    assert (await client.get(sid)).client.device == "phone"
    updated = await client.update(sid, set={"cart": b"4"}, expected_version=1)
    assert dict(updated.data) == {"cart": b"4"} and updated.version == 2
    assert [s.session_id for s in await client.list_sessions("alice")] == [sid]
    assert (await client.introspect(created.access_token)).active
    refreshed = await client.refresh(created.refresh_token)
    assert refreshed.refresh_token != created.refresh_token
    assert {k["kid"] for k in (await client.get_jwks())["keys"]}
    assert await client.revoke_refresh_token(refreshed.refresh_token) == 1
    assert await client.revoke_session(sid) == 0
    others = [await client.create("bob") for _ in range(3)]
    assert await client.revoke_user("bob", except_session_id=others[0].session.session_id) == 2
    assert await client.revoke_access_token(others[0].access_token) == 1


async def test_failures_raise_typed_errors_chosen_by_the_error_reason(
    start_service: ServiceFactory, connect: ClientFactory
) -> None:
    client = await connect(await start_service(refresh_grace=0))
    created = await client.create("carol")
    await client.refresh(created.refresh_token)
    with pytest.raises(RefreshTokenReused) as reused:
        await client.refresh(created.refresh_token)
    assert reused.value.reason == "REFRESH_TOKEN_REUSED"
    assert reused.value.status_code == grpc.StatusCode.UNAUTHENTICATED
    assert not isinstance(reused.value, grpc.RpcError)
    with pytest.raises(SessionNotFound):
        await client.get(created.session.session_id)
    with pytest.raises(RefreshTokenInvalid):
        await client.refresh("nope")
    with pytest.raises(InvalidArgument) as invalid:
        await client.create("")
    assert "user_id" in invalid.value.field_violations
    live = await client.create("carol")
    with pytest.raises(VersionMismatch):
        await client.update(live.session.session_id, set={"a": b"1"}, expected_version=7)


async def test_unreachable_service_raises_service_unavailable(connect: ClientFactory) -> None:
    client = await connect(f"127.0.0.1:{free_port()}", retry=RetryPolicy(initial_backoff=0.01))
    with pytest.raises(ServiceUnavailable):
        await client.get("a" * 16 + "." + "b" * 22)


class _SlowService:
    """A SessionService whose every call hangs: a real server that never answers."""

    async def __aenter__(self) -> str:
        async def hang(request: bytes, context: Any) -> bytes:
            await asyncio.sleep(30)
            return b""

        self.server = grpc.aio.server()
        handlers: dict[str, Any] = {m: grpc.unary_unary_rpc_method_handler(hang) for m in ("Get", "GetJwks")}
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("session.v1.SessionService", handlers),)
        )
        port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        return f"127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop(0)


async def test_every_call_has_a_default_deadline(connect: ClientFactory) -> None:
    async with _SlowService() as address:
        client = await connect(address, timeout=0.2)
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            await client.get("a" * 16 + "." + "b" * 22)
        assert time.monotonic() - started < 2
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            await client.get_jwks(timeout=0.5)  # a per-call deadline wins
        assert 0.4 < time.monotonic() - started < 2


class _FailFirstCalls(grpc.aio.ServerInterceptor):
    """Fails the first call of every method with UNAVAILABLE; counts attempts per method."""

    def __init__(self) -> None:
        self.attempts: collections.Counter[str] = collections.Counter()

    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Handler]], details: grpc.HandlerCallDetails
    ) -> Handler:
        method = details.method.rsplit("/", 1)[-1]
        self.attempts[method] += 1
        if self.attempts[method] > 1:
            return await continuation(details)

        async def unavailable(request: Any, context: Any) -> None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "try again")

        return grpc.unary_unary_rpc_method_handler(unavailable)


async def test_idempotent_calls_are_retried_by_the_service_config_and_others_are_not(
    svc: Running, connect: ClientFactory
) -> None:
    flaky = _FailFirstCalls()
    server, port = await serve_manager(svc.service.manager, [flaky])
    try:
        client = await connect(f"127.0.0.1:{port}")
        created = await (await connect(svc)).create("dave")
        sid = created.session.session_id
        assert (await client.get(sid)).session_id == sid
        assert (await client.introspect(created.access_token)).active
        assert await client.revoke_session(sid) == 1
        with pytest.raises(ServiceUnavailable):
            await client.create("dave")  # a retry could make a second session
        with pytest.raises(ServiceUnavailable):
            await client.refresh(created.refresh_token)  # a retry could look like theft
        assert flaky.attempts == {"Get": 2, "Introspect": 2, "Revoke": 2, "Create": 1, "Refresh": 1}
    finally:
        await server.stop(0)


async def test_mutual_tls(svc: Running, connect: ClientFactory, pki: Pki) -> None:
    credentials = grpc.ssl_server_credentials(
        [(pki.server_key, pki.server_cert)], root_certificates=pki.ca, require_client_auth=True
    )
    server, port = await serve_manager(svc.service.manager, credentials=credentials)
    try:
        mtls = TlsConfig(pki.ca, pki.client_cert, pki.client_key)
        client = await connect(f"127.0.0.1:{port}", tls=mtls)
        assert (await client.get_jwks())["keys"]
        # The certificate names localhost; reaching it by another name needs the override.
        renamed = TlsConfig(pki.ca, pki.client_cert, pki.client_key, server_name="localhost")
        assert (await (await connect(f"127.0.0.1:{port}", tls=renamed)).get_jwks())["keys"]
        no_client_cert = await connect(f"127.0.0.1:{port}", tls=TlsConfig(pki.ca), retry=None)
        with pytest.raises(ServiceUnavailable):
            await no_client_cert.get_jwks()
        wrong_name = TlsConfig(pki.ca, pki.client_cert, pki.client_key, server_name="elsewhere")
        with pytest.raises(ServiceUnavailable):
            await (await connect(f"127.0.0.1:{port}", tls=wrong_name, retry=None)).get_jwks()
    finally:
        await server.stop(0)


def test_tls_config_reads_pem_files(pki: Pki, tmp_path: Any) -> None:
    (tmp_path / "ca.pem").write_bytes(pki.ca)
    (tmp_path / "cert.pem").write_bytes(pki.client_cert)
    (tmp_path / "key.pem").write_bytes(pki.client_key)
    tls = TlsConfig.from_files(tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem")
    assert tls == TlsConfig(pki.ca, pki.client_cert, pki.client_key)


async def test_sync_client_works_from_code_without_an_event_loop(svc: Running) -> None:
    def blocking_caller() -> tuple[int, int, str]:
        with SyncSessionClient(target(svc)) as client:
            created = client.create("erin")
            sid = client.get(created.session.session_id).session_id
            count = client.revoke_session(sid)
            try:
                client.get(sid)
            except SessionServiceError as e:
                return count, len(client.get_jwks()["keys"]), type(e).__name__
        raise AssertionError("the revoked session was still found")

    # The service runs on this test's loop, so the blocking code runs in a thread.
    assert await asyncio.to_thread(blocking_caller) == (1, 1, "SessionNotFound")


async def test_the_client_and_sessionctl_follow_every_page_of_list(
    svc: Running, connect: ClientFactory
) -> None:
    client = await connect(svc)
    ids = {(await client.create("pages")).session.session_id for _ in range(23)}
    listed = await client.list_sessions("pages", page_size=5)
    assert [s.session_id for s in listed] == sorted(ids)
    first = await client.list_page("pages", page_size=5)
    assert len(first.sessions) == 5 and first.next_page_token
    # sessionctl prints every page as one list, unless given a page token.
    base = [sys.executable, "-m", "session_client.cli", "--target", target(svc), "list", "pages"]
    for extra, expected in (
        (["--page-size", "5"], 23),
        (["--page-size", "5", "--page-token", first.next_page_token], 5),
    ):
        process = await asyncio.create_subprocess_exec(*base, *extra, stdout=asyncio.subprocess.PIPE)
        out, _ = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0
        assert len(json.loads(out)["sessions"]) == expected


@pytest.mark.parametrize(
    "remote",
    ["session-service:50051", "10.0.0.7:50051", "dns:///sessions.internal:443", "[2001:db8::1]:50051"],
)
async def test_plaintext_to_a_non_loopback_target_is_refused_unless_insecure(remote: str) -> None:
    with pytest.raises(ValueError, match="plaintext"):
        SessionClient(remote)
    client = SessionClient(remote, insecure=True)  # channels connect lazily: no traffic
    await client.close()


def test_sessionctl_refuses_plaintext_to_a_non_loopback_target_unless_insecure(
    capsys: pytest.CaptureFixture[str],
) -> None:
    remote = "192.0.2.1:50051"  # TEST-NET-1: nothing serves there
    assert sessionctl(["--target", remote, "jwks"]) == 2
    assert "refusing a plaintext channel to '192.0.2.1:50051'" in capsys.readouterr().err
    # --insecure lets the call go out: it fails on the network (exit 1), not on the rule.
    assert sessionctl(["--target", remote, "--timeout", "0.5", "--insecure", "jwks"]) == 1
    assert json.loads(capsys.readouterr().err)["code"] in ("UNAVAILABLE", "DEADLINE_EXCEEDED")


async def test_sessionctl_speaks_plaintext_to_a_loopback_target_without_being_told(svc: Running) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "session_client.cli",
        "--target",
        target(svc),
        "jwks",
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0 and json.loads(out)["keys"]


@pytest.mark.parametrize(
    "local",
    ["127.0.0.1:1", "localhost:1", "[::1]:1", "ipv4:127.0.0.2:1", "dns:///localhost:1", "unix:/tmp/s"],
)
async def test_plaintext_to_loopback_needs_no_flag(local: str) -> None:
    assert is_local_target(local)
    client = SessionClient(local)
    await client.close()
