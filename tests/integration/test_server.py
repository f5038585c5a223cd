"""The server as operators meet it: health, reflection, outages, the command, SIGTERM."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

from session_service.store.embedded import RedisServerProcess
from tests.conftest import Running, ServiceFactory, expect_error, free_port

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _health(r: Running, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(r.channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
    status: int = reply.status
    return status


async def _wait_health(r: Running, want: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while await _health(r, "session.v1.SessionService") != want:
        assert time.monotonic() < deadline, f"health never became {want}"
        await asyncio.sleep(0.05)


async def test_health_is_serving_for_the_server_and_the_service(svc: Running) -> None:
    assert await _health(svc) == SERVING
    assert await _health(svc, "session.v1.SessionService") == SERVING


async def test_reflection_lists_the_session_service(svc: Running) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(svc.channel)
    responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    names = set()
    async for reply in responses:
        names |= {s.name for s in reply.list_services_response.service}
    assert {"session.v1.SessionService", "grpc.health.v1.Health"} <= names


async def test_redis_outage_gives_unavailable_and_health_recovers(start_service: ServiceFactory) -> None:
    port = free_port()
    redis_proc = RedisServerProcess("redis-server", port)
    redis_proc.start()
    try:
        r = await start_service(redis_url=redis_proc.url, redis_mode="standalone", redis_timeout=0.5)
        created = await r.stub.Create(pb.CreateRequest(user_id="outage"))
        redis_proc.stop()
        started = time.monotonic()
        async with expect_error(grpc.StatusCode.UNAVAILABLE, "STORE_UNAVAILABLE"):
            await r.stub.Get(pb.GetRequest(session_id=created.session.session_id), timeout=5)
        assert time.monotonic() - started < 3, "an outage must fail fast, not hang"
        await _wait_health(r, NOT_SERVING)
        assert await _health(r) == SERVING  # liveness: the process itself is fine
        # Redis comes back empty (no persistence here): the service recovers by itself,
        # reloading its scripts on first use.
        redis_proc = RedisServerProcess("redis-server", port)
        redis_proc.start()
        await _wait_health(r, SERVING)
        # A pooled connection from before the outage may still be handed out once; a Create
        # on it fails UNAVAILABLE (never retried by the service: it may have run), and the
        # caller's retry goes through. More than one such failure would be a bug.
        try:
            again = await r.stub.Create(pb.CreateRequest(user_id="outage"))
        except grpc.aio.AioRpcError as e:
            assert e.code() == grpc.StatusCode.UNAVAILABLE, e
            again = await r.stub.Create(pb.CreateRequest(user_id="outage"))
        assert (await r.stub.Get(pb.GetRequest(session_id=again.session.session_id))).session
    finally:
        redis_proc.stop()


def _spawn(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "session_service", "serve"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait_serving(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            try:
                reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == SERVING:
                    return
            except grpc.RpcError:
                pass
        time.sleep(0.1)
    raise AssertionError("service did not become SERVING")


def test_serve_command_with_embedded_redis_works_and_drains_on_sigterm() -> None:
    port = free_port()
    process = _spawn(
        {
            "SESSION_PORT": str(port),
            "SESSION_HOST": "127.0.0.1",
            "SESSION_METRICS_PORT": "0",
            "SESSION_SHUTDOWN_GRACE": "5",
        }
    )
    try:
        _wait_serving(port, process)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = session_pb2_grpc.SessionServiceStub(ch)
            created = stub.Create(pb.CreateRequest(user_id="cli"))
            assert stub.Get(pb.GetRequest(session_id=created.session.session_id)).session.user_id == "cli"
            jwks = json.loads(stub.GetJwks(pb.GetJwksRequest()).jwks_json)
            assert jwks["keys"][0]["alg"] == "EdDSA"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        output = process.stdout.read().decode() if process.stdout else ""
        assert "draining" in output
        # Every line is one JSON object of one format; audit events' fields stand in it.
        lines = [json.loads(line) for line in output.splitlines() if line.strip()]
        assert all(line.keys() >= {"time", "level", "logger", "message"} for line in lines), lines
        audit = [line for line in lines if line["logger"] == "session_service.audit"]
        assert {e["event"] for e in audit} >= {"signing_key_loaded", "session_created"}
        created_event = next(e for e in audit if e["event"] == "session_created")
        assert created_event["session_id"] == created.session.session_id
        assert created.refresh_token not in output and created.access_token not in output
        # Plaintext without a policy warns, once.
        assert sum("INSECURE" in str(line.get("message", "")) for line in lines) == 1
        # The private redis-server was stopped with the service.
        assert (
            "redis-server"
            not in subprocess.run(
                ["ps", "-o", "args=", "--ppid", str(process.pid)], capture_output=True, text=True, check=False
            ).stdout
        )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _served_calls(metrics_port: int) -> float:
    body = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith("session_service_rpc_duration_seconds_count")
    )


def _two_free_ports() -> int:
    """A port that is free, and the next one too (worker i serves metrics on port + i)."""
    while True:
        first = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", first + 1))
            except OSError:
                continue
        return first


def test_workers_share_the_port_keys_and_redis_and_all_serve_then_stop_on_sigterm() -> None:
    port, metrics = free_port(), _two_free_ports()
    process = _spawn(
        {
            "SESSION_PORT": str(port),
            "SESSION_HOST": "127.0.0.1",
            "SESSION_METRICS_PORT": str(metrics),
            "SESSION_SHUTDOWN_GRACE": "5",
            "SESSION_WORKERS": "2",
        }
    )
    try:
        _wait_serving(port, process)
        workers = subprocess.run(
            ["ps", "-o", "pid=,args=", "--ppid", str(process.pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.splitlines()
        assert sum("session_service" in w for w in workers) == 2
        assert sum("redis-server" in w for w in workers) == 1  # one private Redis, shared
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            created = session_pb2_grpc.SessionServiceStub(ch).Create(pb.CreateRequest(user_id="workers"))
        # Each new connection may land on either worker: every one knows the session and
        # verifies the tokens the other issued (one signing key, one refresh-token key, one Redis).
        deadline = time.monotonic() + 20
        while min(_served_calls(metrics), _served_calls(metrics + 1)) == 0:
            assert time.monotonic() < deadline, "one worker never served a call"
            options = [("grpc.use_local_subchannel_pool", 1)]  # a connection of its own
            with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as ch:
                stub = session_pb2_grpc.SessionServiceStub(ch)
                assert stub.Introspect(pb.IntrospectRequest(token=created.access_token)).active
                assert stub.Introspect(pb.IntrospectRequest(token=created.refresh_token)).active
                assert (
                    stub.Get(pb.GetRequest(session_id=created.session.session_id)).session.user_id
                    == "workers"
                )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        output = process.stdout.read().decode() if process.stdout else ""
        assert output.count("draining") == 2
        assert not subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(process.pid)], capture_output=True, text=True, check=False
        ).stdout.strip()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


_OPEN = {"SESSION_ALLOW_UNAUTHENTICATED_CALLERS": "true"}


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"SESSION_PORT": "seventy"}, "SESSION_PORT"),
        ({"SESSION_LIMIT_POLICY": "random"}, "SESSION_LIMIT_POLICY"),
        ({"SESSION_IDLE_TIMEOUT": "100", "SESSION_ABSOLUTE_TIMEOUT": "10"}, "SESSION_IDLE_TIMEOUT"),
        ({"SESSION_KEYS_DIR": "/nonexistent/keys"}, "SESSION_KEYS_DIR"),
        ({"SESSION_REFRESH_TOKEN_KEYS_FILE": "/nonexistent/keys"}, "SESSION_REFRESH_TOKEN_KEYS_FILE"),
        # Secure by default: a real Redis without signing keys is refused (replicas would
        # each sign with a throwaway key), before Redis is even contacted.
        ({"SESSION_REDIS_URL": "redis://127.0.0.1:1", **_OPEN}, "SESSION_KEYS_DIR"),
        ({"SESSION_TLS_CERT_FILE": "/nonexistent/cert.pem"}, "SESSION_TLS_KEY_FILE"),
        (
            {
                "SESSION_TLS_CERT_FILE": "/nonexistent/c.pem",
                "SESSION_TLS_KEY_FILE": "/nonexistent/k.pem",
                **_OPEN,
            },
            "SESSION_TLS_CERT_FILE",
        ),
        ({"SESSION_AUTHZ_POLICY_FILE": "/nonexistent/policy.json"}, "SESSION_AUTHZ_POLICY_FILE"),
        ({"SESSION_CALLER_JWKS_FILE": "/nonexistent/jwks.json"}, "SESSION_CALLER_ISSUER"),
        # Loaded by each worker: a bad file still exits 2 with the setting's name.
        (
            {"SESSION_WORKERS": "2", "SESSION_AUTHZ_POLICY_FILE": "/nonexistent/p.json"},
            "SESSION_AUTHZ_POLICY_FILE",
        ),
    ],
)
def test_invalid_configuration_fails_at_start_naming_the_setting(env: dict[str, str], setting: str) -> None:
    process = _spawn({"SESSION_PORT": str(free_port()), **env})
    out, _ = process.communicate(timeout=20)
    assert process.returncode == 2
    assert setting in out.decode()


_CALLER_TOKENS = {
    "SESSION_CALLER_JWKS_FILE": "/nonexistent/jwks.json",
    "SESSION_CALLER_ISSUER": "https://kubernetes.default.svc",
    "SESSION_CALLER_AUDIENCE": "session-service",
}


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        (
            {"SESSION_REDIS_URL": "redis://127.0.0.1:1"},
            "SESSION_ALLOW_UNAUTHENTICATED_CALLERS: is false, but SESSION_REDIS_URL is set",
        ),
        (
            {"SESSION_TLS_CERT_FILE": "/nonexistent/c.pem", "SESSION_TLS_KEY_FILE": "/nonexistent/k.pem"},
            "SESSION_ALLOW_UNAUTHENTICATED_CALLERS: is false, but SESSION_TLS_CERT_FILE is set",
        ),
        (
            {
                "SESSION_TLS_CERT_FILE": "/nonexistent/c.pem",
                "SESSION_TLS_KEY_FILE": "/nonexistent/k.pem",
                "SESSION_TLS_CLIENT_CA_FILE": "/nonexistent/ca.pem",
            },
            "SESSION_AUTHZ_POLICY_FILE: must be set with SESSION_TLS_CLIENT_CA_FILE",
        ),
        (_CALLER_TOKENS, "SESSION_AUTHZ_POLICY_FILE: must be set with SESSION_CALLER_JWKS_FILE"),
        ({**_CALLER_TOKENS, **_OPEN}, "SESSION_AUTHZ_POLICY_FILE: must be set with SESSION_CALLER_JWKS_FILE"),
    ],
)
def test_a_start_open_to_every_caller_exits_2_saying_what_to_set(env: dict[str, str], problem: str) -> None:
    process = _spawn({"SESSION_PORT": str(free_port()), **env})
    out, _ = process.communicate(timeout=20)
    assert process.returncode == 2
    assert f"session-service: invalid configuration: {problem}" in out.decode()


async def test_the_opt_in_starts_a_service_open_to_every_caller_and_says_so(
    start_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="session_service.app")
    r = await start_service(allow_unauthenticated_callers=True)
    assert r.service.settings.redis_url  # a real Redis: not development
    created = await r.stub.Create(pb.CreateRequest(user_id="anyone"))
    assert created.session.user_id == "anyone"
    assert any(m.startswith("INSECURE: no authorization policy") for m in caplog.messages)
