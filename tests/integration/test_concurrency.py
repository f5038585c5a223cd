"""Races that the Lua scripts must make safe: one winner, no corrupted state."""

from __future__ import annotations

import asyncio
import time

import grpc
from session_client.status import error_details
from session_wire.v1 import session_pb2 as pb

from tests.conftest import Running, ServiceFactory


async def _refresh_all(r: Running, token: str, n: int) -> list[pb.RefreshResponse | BaseException]:
    calls = [r.stub.Refresh(pb.RefreshRequest(refresh_token=token)) for _ in range(n)]
    return await asyncio.gather(*calls, return_exceptions=True)


async def test_fifty_concurrent_refreshes_within_grace_all_get_the_one_successor(
    start_service: ServiceFactory,
) -> None:
    r = await start_service(refresh_grace=30)
    created = await r.stub.Create(pb.CreateRequest(user_id="tabs"))
    results = await _refresh_all(r, created.refresh_token, 50)
    assert all(isinstance(x, pb.RefreshResponse) for x in results), results
    successors = {x.refresh_token for x in results if isinstance(x, pb.RefreshResponse)}
    assert len(successors) == 1
    (successor,) = successors
    # Exactly one rotation happened: the successor works, and works once.
    nxt = await r.stub.Refresh(pb.RefreshRequest(refresh_token=successor))
    assert nxt.refresh_token not in (successor, created.refresh_token)
    session = (await r.stub.Get(pb.GetRequest(session_id=created.session.session_id))).session
    assert session.version == 1


async def test_fifty_concurrent_refreshes_without_grace_revoke_the_session(
    start_service: ServiceFactory,
) -> None:
    r = await start_service(refresh_grace=0)
    created = await r.stub.Create(pb.CreateRequest(user_id="thief"))
    results = await _refresh_all(r, created.refresh_token, 50)
    winners = [x for x in results if isinstance(x, pb.RefreshResponse)]
    errors = [error_details(x) for x in results if isinstance(x, grpc.aio.AioRpcError)]
    assert len(winners) == 1
    assert len(errors) == 49
    # Duplicates are reuse and end the session (rotate reports it, the revoke script ends
    # it); those that arrive after the end find the session gone.
    reasons = {e.reason for e in errors}
    assert "REFRESH_TOKEN_REUSED" in reasons
    assert reasons <= {"REFRESH_TOKEN_REUSED", "REFRESH_TOKEN_INVALID"}
    assert all(e.code == grpc.StatusCode.UNAUTHENTICATED for e in errors)
    assert sum(e.reason == "REFRESH_TOKEN_REUSED" for e in errors) >= 1
    inactive = await r.stub.Introspect(pb.IntrospectRequest(token=winners[0].refresh_token))
    assert not inactive.active


async def test_revoke_racing_refresh_leaves_no_live_session(start_service: ServiceFactory) -> None:
    r = await start_service()
    for _ in range(20):
        created = await r.stub.Create(pb.CreateRequest(user_id="racer"))
        refresh, revoke = await asyncio.gather(
            r.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token)),
            r.stub.Revoke(pb.RevokeRequest(session_id=created.session.session_id)),
            return_exceptions=True,
        )
        assert isinstance(revoke, pb.RevokeResponse) and revoke.revoked_count == 1
        if isinstance(refresh, pb.RefreshResponse):
            # Refresh won the race; its tokens must die with the revocation.
            for token in (refresh.refresh_token, refresh.access_token):
                assert not (await r.stub.Introspect(pb.IntrospectRequest(token=token))).active
        else:
            assert isinstance(refresh, grpc.aio.AioRpcError)
            assert error_details(refresh).reason == "REFRESH_TOKEN_INVALID"
    assert list((await r.stub.List(pb.ListRequest(user_id="racer"))).sessions) == []
    # Only the revocation stream and the ids of its events remain (both trim themselves;
    # see store/outbox.py): outboxes are gone once relayed, and their notes within the
    # settle batch (milliseconds). The user's rate-limit buckets expire by themselves.
    stream = f"{r.prefix}:{{revocations}}"
    deadline = time.monotonic() + 1.0
    while True:
        left = {k for k in await r.redis.keys(f"{r.prefix}:*") if b":rl:" not in k}
        if left <= {stream.encode(), f"{stream}:ids".encode()} or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.01)
    assert left <= {stream.encode(), f"{stream}:ids".encode()}


async def test_concurrent_compare_and_set_updates_have_one_winner(start_service: ServiceFactory) -> None:
    r = await start_service()
    sid = (await r.stub.Create(pb.CreateRequest(user_id="cas"))).session.session_id
    calls = [
        r.stub.Update(pb.UpdateRequest(session_id=sid, set={"writer": str(i).encode()}, expected_version=1))
        for i in range(30)
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    winners = [x for x in results if isinstance(x, pb.UpdateResponse)]
    losers = [error_details(x) for x in results if isinstance(x, grpc.aio.AioRpcError)]
    assert len(winners) == 1 and len(losers) == 29
    assert {(e.code, e.reason) for e in losers} == {(grpc.StatusCode.ABORTED, "VERSION_MISMATCH")}
    final = (await r.stub.Get(pb.GetRequest(session_id=sid))).session
    assert final.version == 2 and final.data["writer"] == winners[0].session.data["writer"]


async def test_concurrent_creates_respect_the_session_limit(start_service: ServiceFactory) -> None:
    r = await start_service(max_sessions_per_user=3, limit_policy="reject-new")
    results = await asyncio.gather(
        *[r.stub.Create(pb.CreateRequest(user_id="crowd")) for _ in range(20)], return_exceptions=True
    )
    assert sum(isinstance(x, pb.CreateResponse) for x in results) == 3
    assert len((await r.stub.List(pb.ListRequest(user_id="crowd"))).sessions) == 3


async def test_concurrent_creates_with_eviction_all_succeed_and_keep_the_limit(
    start_service: ServiceFactory,
) -> None:
    r = await start_service(max_sessions_per_user=3)
    results = await asyncio.gather(
        *[r.stub.Create(pb.CreateRequest(user_id="rush")) for _ in range(20)], return_exceptions=True
    )
    assert all(isinstance(x, pb.CreateResponse) for x in results), results
    listed = (await r.stub.List(pb.ListRequest(user_id="rush"))).sessions
    assert len(listed) == 3
    # The three left are the three most recent creations' sessions or later: every other one ended.
    live = {s.session_id for s in listed}
    created = [x.session.session_id for x in results if isinstance(x, pb.CreateResponse)]
    assert live <= set(created)
