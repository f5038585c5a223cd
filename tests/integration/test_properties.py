"""Property-based: no input, however odd, yields UNKNOWN or INTERNAL or kills the server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

from session_service.app import start
from session_service.config import Settings
from session_service.store.embedded import RedisServerProcess

BAD_CODES = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
ALLOWED = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
METHODS = ("Create", "Get", "Refresh", "Revoke", "Introspect", "Update", "List", "GetJwks")
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def channel(redis_server: RedisServerProcess) -> Iterator[grpc.Channel]:
    """A service on its own event loop thread, so hypothesis can drive it with a sync channel."""
    ready: dict[str, Any] = {}
    started = threading.Event()

    def run() -> None:
        async def main() -> None:
            service = await start(
                Settings(
                    host="127.0.0.1",
                    port=0,
                    redis_url=redis_server.url,
                    redis_prefix="prop",
                    metrics_port=0,
                    max_sessions_per_user=5,
                    dev=True,
                )
            )
            ready["port"], ready["stop"] = service.port, asyncio.Event()
            ready["loop"] = asyncio.get_running_loop()
            started.set()
            await ready["stop"].wait()
            await service.stop(grace=0)

        asyncio.run(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(20)
    with grpc.insecure_channel(f"127.0.0.1:{ready['port']}") as ch:
        yield ch
        # The server is still alive and healthy after everything thrown at it.
        reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    ready["loop"].call_soon_threadsafe(ready["stop"].set)
    thread.join(20)


def _call(fn: Any, request: Any) -> None:
    try:
        fn(request, timeout=10)
    except grpc.RpcError as e:
        code = e.code()
        assert code not in BAD_CODES, (request, e)
        assert code in ALLOWED, (request, e)


texts = st.text(max_size=300)
sid_like = st.one_of(texts, st.from_regex(r"[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}", fullmatch=True))
token_like = st.one_of(
    texts,
    st.from_regex(r"[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}", fullmatch=True),
    st.from_regex(r"eyJ[A-Za-z0-9_-]{0,60}\.[A-Za-z0-9_-]{0,60}\.[A-Za-z0-9_-]{0,60}", fullmatch=True),
)
data_maps = st.dictionaries(st.text(max_size=150), st.binary(max_size=3000), max_size=70)
claim_maps = st.dictionaries(st.text(max_size=140), st.text(max_size=1100), max_size=35)


@PROPERTY_SETTINGS
@given(
    user=st.text(max_size=300),
    claims=claim_maps,
    data=data_maps,
    scopes=st.lists(st.text(max_size=140), max_size=70),
    device=st.text(max_size=600),
)
def test_create_never_fails_internally(
    channel: grpc.Channel,
    user: str,
    claims: dict[str, str],
    data: dict[str, bytes],
    scopes: list[str],
    device: str,
) -> None:
    stub = session_pb2_grpc.SessionServiceStub(channel)
    _call(
        stub.Create,
        pb.CreateRequest(
            user_id=user, claims=claims, data=data, scopes=scopes, client=pb.ClientInfo(device=device)
        ),
    )


@PROPERTY_SETTINGS
@given(
    sid=sid_like,
    token=token_like,
    hint=texts,
    user=texts,
    sets=data_maps,
    remove=st.lists(texts, max_size=5),
    version=st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
def test_other_rpcs_never_fail_internally(
    channel: grpc.Channel,
    sid: str,
    token: str,
    hint: str,
    user: str,
    sets: dict[str, bytes],
    remove: list[str],
    version: int,
) -> None:
    stub = session_pb2_grpc.SessionServiceStub(channel)
    _call(stub.Get, pb.GetRequest(session_id=sid))
    _call(stub.Refresh, pb.RefreshRequest(refresh_token=token))
    _call(stub.Introspect, pb.IntrospectRequest(token=token, token_type_hint=hint))
    _call(stub.Update, pb.UpdateRequest(session_id=sid, set=sets, remove=remove, expected_version=version))
    _call(stub.List, pb.ListRequest(user_id=user))
    _call(stub.Revoke, pb.RevokeRequest(session_id=sid, except_session_id=hint))
    _call(stub.Revoke, pb.RevokeRequest(refresh_token=token))
    _call(stub.Revoke, pb.RevokeRequest(access_token=token))
    _call(stub.Revoke, pb.RevokeRequest(user_id=user, except_session_id=sid))


@PROPERTY_SETTINGS
@given(
    user=st.text(min_size=1, max_size=40).filter(lambda u: u.isprintable()),
    sets=data_maps,
    remove=st.lists(st.text(max_size=20), max_size=5),
    version=st.integers(min_value=0, max_value=5),
)
def test_updates_on_a_live_session_never_fail_internally_nor_corrupt_it(
    channel: grpc.Channel, user: str, sets: dict[str, bytes], remove: list[str], version: int
) -> None:
    stub = session_pb2_grpc.SessionServiceStub(channel)
    created = stub.Create(pb.CreateRequest(user_id=user, data={"keep": b"me"}), timeout=10)
    sid = created.session.session_id
    _call(stub.Update, pb.UpdateRequest(session_id=sid, set=sets, remove=remove, expected_version=version))
    after = stub.Get(pb.GetRequest(session_id=sid), timeout=10).session
    if after.version == 1:  # the update was refused: nothing changed
        assert dict(after.data) == {"keep": b"me"}
    else:
        expected = {"keep": b"me"}
        expected.update(sets)
        for key in remove:
            expected.pop(key, None)
        assert dict(after.data) == expected
    stub.Revoke(pb.RevokeRequest(session_id=sid), timeout=10)


@PROPERTY_SETTINGS
@given(method=st.sampled_from(METHODS), body=st.binary(max_size=512))
def test_arbitrary_request_bytes_never_fail_internally(
    channel: grpc.Channel, method: str, body: bytes
) -> None:
    call: Any = channel.unary_unary(f"/session.v1.SessionService/{method}")
    _call(call, body)
