"""Stopping the server as a user does: SIGTERM from a supervisor, Ctrl-C in a terminal.

Ctrl-C signals the whole foreground process group: the service and its private
redis-server get SIGINT at the same moment, so the service stops with its Redis gone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

from tests.conftest import free_port

STOPS = [
    (signal.SIGTERM, "process"),
    (signal.SIGINT, "process"),
    (signal.SIGTERM, "group"),
    (signal.SIGINT, "group"),
]


def _started(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "session_service", "serve"],
        env={
            **os.environ,
            "SESSION_HOST": "127.0.0.1",
            "SESSION_PORT": str(port),
            "SESSION_METRICS_PORT": "0",
            "SESSION_REDIS_URL": "",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a shell gives a foreground job
    )
    deadline = time.monotonic() + 20
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return process
            except grpc.RpcError:
                time.sleep(0.05)
    process.kill()
    raise AssertionError("the service did not report SERVING")


def _use(port: int) -> None:
    """What a first session does: create, rotate, reuse (a revocation), log out everywhere."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        created = stub.Create(pb.CreateRequest(user_id="alice"))
        second = stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
        stub.Refresh(pb.RefreshRequest(refresh_token=second.refresh_token))
        # Two rotations back: reuse even within the grace window, which ends the session.
        with pytest.raises(grpc.RpcError):
            stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
        stub.Create(pb.CreateRequest(user_id="alice"))
        stub.Revoke(pb.RevokeRequest(user_id="alice"))


@pytest.mark.parametrize(("sig", "to"), STOPS, ids=[f"{s.name}-{to}" for s, to in STOPS])
def test_a_clean_stop_logs_no_error_and_exits_0_within_seconds(sig: signal.Signals, to: str) -> None:
    port = free_port()
    process = _started(port)
    try:
        _use(port)
        started = time.monotonic()
        if to == "group":
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
        _, err = process.communicate(timeout=15)
        stopped_in = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines = [json.loads(line) for line in err.decode().splitlines() if line.strip()]
    assert process.returncode == 0, lines
    assert [line for line in lines if line["level"] in ("ERROR", "CRITICAL")] == []
    assert any("shutting down" in line["message"] for line in lines)
    assert stopped_in < 5, f"stopped in {stopped_in:.1f}s"
