"""WatchRevocations over real gRPC channels against real Redis: what is published, replay
and resumption from a cursor, trimming, errors, and one Redis reader for many watchers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import pytest
from redis.asyncio import Redis
from session_wire.v1 import session_pb2 as pb

from session_service.store.embedded import RedisServerProcess
from session_service.store.keys import PENDING_INDEXES
from session_service.store.revocations import RedisRevocationFeed
from tests.conftest import Running, ServiceFactory, expect_error, free_port


def watch(r: Running, cursor: str = "") -> Any:
    return r.stub.WatchRevocations(pb.WatchRevocationsRequest(cursor=cursor))


async def next_response(call: Any, timeout: float = 5.0) -> pb.WatchRevocationsResponse:
    response = await asyncio.wait_for(call.read(), timeout)
    assert response is not grpc.aio.EOF, "the stream ended"
    return response  # type: ignore[no-any-return]


async def next_events(call: Any, timeout: float = 5.0) -> pb.WatchRevocationsResponse:
    """The next response that carries revocations (heartbeats skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        response = await next_response(call, deadline - time.monotonic())
        if response.revocations:
            return response


def ids(response: pb.WatchRevocationsResponse) -> list[list[str]]:
    return [list(r.session_ids) for r in response.revocations]


async def replay(r: Running, cursor: str = "") -> pb.WatchRevocationsResponse:
    """Everything retained after ``cursor``, as one caught-up response (replays here are short)."""
    call = watch(r, cursor)
    try:
        response = await next_response(call)
        assert response.caught_up
        return response
    finally:
        call.cancel()


async def create(r: Running, user: str = "alice") -> pb.CreateResponse:
    return await r.stub.Create(pb.CreateRequest(user_id=user))


async def test_watch_replays_retained_revocations_then_streams_new_ones(svc: Running) -> None:
    earlier = await create(svc)
    await svc.stub.Revoke(pb.RevokeRequest(session_id=earlier.session.session_id))
    call = watch(svc)
    first = await next_response(call)
    assert first.caught_up and not first.cursor_reset and first.cursor
    assert ids(first) == [[earlier.session.session_id]]

    later = await create(svc)
    await svc.stub.Revoke(pb.RevokeRequest(session_id=later.session.session_id))
    live = await next_events(call)
    assert ids(live) == [[later.session.session_id]] and not live.caught_up
    assert live.cursor > first.cursor
    (event,) = live.revocations
    # It matters for as long as an access token can: TTL 900 s plus the 5 s leeway.
    assert event.expires_at.seconds - event.revoked_at.seconds == 905
    assert abs(event.revoked_at.seconds - time.time()) < 60
    call.cancel()


def reasons(response: pb.WatchRevocationsResponse) -> list[str]:
    return [
        pb.RevocationReason.Name(r.reason).removeprefix("REVOCATION_REASON_") for r in response.revocations
    ]


async def test_every_way_a_session_ends_is_published_and_nothing_else(start_service: ServiceFactory) -> None:
    r = await start_service(max_sessions_per_user=2, refresh_grace=0)
    evicted, stolen, _ = [await create(r, "erin") for _ in range(3)]  # the third evicts the first
    rotated = await r.stub.Refresh(pb.RefreshRequest(refresh_token=stolen.refresh_token))
    assert rotated.session.session_id == stolen.session.session_id
    async with expect_error(grpc.StatusCode.UNAUTHENTICATED, "REFRESH_TOKEN_REUSED"):
        await r.stub.Refresh(pb.RefreshRequest(refresh_token=stolen.refresh_token))
    by_refresh, by_access = await create(r, "finn"), await create(r, "gail")
    await r.stub.Revoke(pb.RevokeRequest(refresh_token=by_refresh.refresh_token))
    await r.stub.Revoke(pb.RevokeRequest(access_token=by_access.access_token))
    kept, other = await create(r, "hugo"), await create(r, "hugo")
    await r.stub.Revoke(pb.RevokeRequest(user_id="hugo", except_session_id=kept.session.session_id))
    await r.stub.Revoke(pb.RevokeRequest(user_id="hugo"))
    # Not published: a forged refresh token for a live session ends nothing.
    live = await create(r, "ivy")
    forged = live.session.session_id + "." + "A" * 43
    assert (await r.stub.Revoke(pb.RevokeRequest(refresh_token=forged))).revoked_count == 0
    # Not published: a repeat Revoke (the first one's event is already on its way), a made-up
    # session id, and a made-up user.
    repeat = await r.stub.Revoke(pb.RevokeRequest(session_id=by_refresh.session.session_id))
    assert repeat.revoked_count == 0
    made_up = "AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB"
    assert (await r.stub.Revoke(pb.RevokeRequest(session_id=made_up))).revoked_count == 0
    assert (await r.stub.Revoke(pb.RevokeRequest(user_id="nobody-at-all"))).revoked_count == 0
    # An administrator's revoke says so.
    admin = await create(r, "jill")
    await r.stub.Revoke(
        pb.RevokeRequest(session_id=admin.session.session_id, reason=pb.REVOCATION_REASON_ADMINISTRATIVE)
    )

    everything = await replay(r)
    assert ids(everything) == [
        [evicted.session.session_id],
        [stolen.session.session_id],
        [by_refresh.session.session_id],
        [by_access.session.session_id],
        [other.session.session_id],
        [kept.session.session_id],
        [admin.session.session_id],
    ]
    assert reasons(everything) == [
        "SESSION_LIMIT_EVICTION",
        "REFRESH_TOKEN_REUSE",
        "LOGOUT",
        "LOGOUT",
        "LOGOUT_OTHER_DEVICES",
        "LOGOUT_EVERYWHERE",
        "ADMINISTRATIVE",
    ]
    # Nothing is left behind: outboxes are deleted once relayed, notes dropped.
    assert await r.redis.exists(f"{r.prefix}:{{{admin.session.session_id.split('.')[0]}}}:o") == 0


async def test_on_a_single_redis_revoke_notes_only_what_it_ended(svc: Running) -> None:
    # The revoke script writes its own note there, and only with an event; in a cluster
    # the note comes first and is dropped a moment later, so only the stream is checked.
    keys = svc.service.store.keys
    created = await create(svc, "nora")
    revoke = pb.RevokeRequest(session_id=created.session.session_id)
    assert (await svc.stub.Revoke(revoke)).revoked_count == 1
    assert (await svc.stub.Revoke(revoke)).revoked_count == 0  # ended already: no event
    assert ids(await replay(svc)) == [[created.session.session_id]]
    if svc.service.settings.redis_mode != "cluster":
        await asyncio.sleep(0.05)  # the first call's note is dropped in a 5 ms batch
        for n in range(PENDING_INDEXES):
            assert await svc.redis.zcard(keys.pending(n)) == 0


async def test_revoke_refuses_reasons_only_the_service_gives(svc: Running) -> None:
    created = await create(svc)
    for reason in (pb.REVOCATION_REASON_REFRESH_TOKEN_REUSE, pb.REVOCATION_REASON_SESSION_LIMIT_EVICTION, 99):
        async with expect_error(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"):
            request = pb.RevokeRequest(session_id=created.session.session_id)
            request.reason = reason  # type: ignore[assignment] # 99 is no known value
            await svc.stub.Revoke(request)
    assert ids(await replay(svc)) == []


async def test_a_large_revocation_arrives_in_bounded_pieces(start_service: ServiceFactory) -> None:
    # A user far past the defaults (cap, Create rate), as a service configured for it allows.
    svc = await start_service(max_sessions_per_user=0, create_rate_per_user=0)
    many = 1100
    sessions = set()
    for start in range(0, many, 100):
        batch = await asyncio.gather(*(create(svc, "kim") for _ in range(min(100, many - start))))
        sessions |= {c.session.session_id for c in batch}
    assert (await svc.stub.Revoke(pb.RevokeRequest(user_id="kim"))).revoked_count == many
    key = f"{svc.prefix}:{{revocations}}"
    entries = await svc.redis.xrange(key)
    # One revoke_user script call (and one event) per batch of at most 500 sessions: the
    # work of each call is bounded, whatever the user's session count.
    assert [len(fields[b"sids"].split()) for _, fields in entries] == [500, 500, 100]
    # Replayed and followed live, no response carries more than a few thousand ids.
    call = watch(svc)
    seen: set[str] = set()
    while len(seen) < many:
        response = await next_response(call)
        assert sum(len(r.session_ids) for r in response.revocations) <= 2000
        assert response.ByteSize() < 200_000
        seen |= {sid for r in response.revocations for sid in r.session_ids}
    assert seen == sessions
    call.cancel()


async def test_log_out_everywhere_is_one_event_with_every_session(svc: Running) -> None:
    sessions = {(await create(svc, "jay")).session.session_id for _ in range(3)}
    assert (await svc.stub.Revoke(pb.RevokeRequest(user_id="jay"))).revoked_count == 3
    (event,) = (await replay(svc)).revocations
    assert set(event.session_ids) == sessions


async def test_reconnecting_with_a_cursor_resumes_without_missing_or_repeating(svc: Running) -> None:
    first = await create(svc)
    await svc.stub.Revoke(pb.RevokeRequest(session_id=first.session.session_id))
    cursor = (await replay(svc)).cursor
    missed = [await create(svc) for _ in range(3)]
    for m in missed:
        await svc.stub.Revoke(pb.RevokeRequest(session_id=m.session.session_id))
    resumed = await replay(svc, cursor)
    assert not resumed.cursor_reset
    assert ids(resumed) == [[m.session.session_id] for m in missed]
    # Resuming from the newest cursor: nothing to replay, but a caught-up response all the same.
    latest = await replay(svc, resumed.cursor)
    assert ids(latest) == [] and latest.cursor == resumed.cursor


async def test_unknown_cursor_replays_all_retained_and_says_so(svc: Running) -> None:
    # No stream yet: a cursor from elsewhere (a Redis that lost its data) cannot be resumed.
    empty = await replay(svc, "1700000000000-0")
    assert empty.cursor_reset and ids(empty) == []
    created = await create(svc)
    await svc.stub.Revoke(pb.RevokeRequest(session_id=created.session.session_id))
    future = await replay(svc, "99999999999999-0")
    assert future.cursor_reset and ids(future) == [[created.session.session_id]]


async def test_cursor_older_than_retention_resumes_without_reset(svc: Running) -> None:
    old = await create(svc)
    await svc.stub.Revoke(pb.RevokeRequest(session_id=old.session.session_id))
    cursor = (await replay(svc)).cursor
    new = await create(svc)
    await svc.stub.Revoke(pb.RevokeRequest(session_id=new.session.session_id))
    # What expiry does to the old event: trimmed away. Everything trimmed had expired, so a
    # subscriber resuming from it missed nothing that matters.
    key = f"{svc.prefix}:{{revocations}}"
    newest = (await svc.redis.xrevrange(key, count=1))[0][0].decode()
    await svc.redis.xtrim(key, minid=newest)
    resumed = await replay(svc, cursor)
    assert not resumed.cursor_reset
    assert ids(resumed) == [[new.session.session_id]]


async def test_events_are_dropped_once_no_access_token_they_cover_can_be_valid(svc: Running) -> None:
    key = f"{svc.prefix}:{{revocations}}"
    now_ms = int(time.time() * 1000)
    # An event older than the access-token TTL (900 s) + leeway + margin, and a recent one.
    await svc.redis.xadd(
        key, {"at": 1, "exp": 2, "sids": "aaaaaaaaaaaaaaaa.old"}, id=f"{now_ms - 1_000_000}-0"
    )
    await svc.redis.xadd(
        key, {"at": 1, "exp": 2, "sids": "aaaaaaaaaaaaaaaa.recent"}, id=f"{now_ms - 60_000}-0"
    )
    created = await create(svc)
    await svc.stub.Revoke(pb.RevokeRequest(session_id=created.session.session_id))
    kept = [fields[b"sids"].decode() for _, fields in await svc.redis.xrange(key)]
    assert kept == ["aaaaaaaaaaaaaaaa.recent", created.session.session_id]


async def test_malformed_cursor_is_invalid_argument(svc: Running) -> None:
    for cursor in ("abc", "1-2-3", "-1-0", "1" * 30 + "-0"):
        async with expect_error(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"):
            await watch(svc, cursor).read()


async def test_watch_fails_unavailable_when_redis_goes_away(start_service: ServiceFactory) -> None:
    redis_proc = RedisServerProcess("redis-server", free_port())
    redis_proc.start()
    try:
        r = await start_service(redis_url=redis_proc.url, redis_mode="standalone", redis_timeout=0.5)
        call = watch(r)
        assert (await next_response(call)).caught_up
        redis_proc.stop()
        started = time.monotonic()
        async with expect_error(grpc.StatusCode.UNAVAILABLE, "STORE_UNAVAILABLE"):
            await next_events(call, timeout=10)
        assert time.monotonic() - started < 3
        async with expect_error(grpc.StatusCode.UNAVAILABLE, "STORE_UNAVAILABLE"):
            await watch(r).read()
    finally:
        redis_proc.stop()


async def test_many_watchers_share_one_redis_reader(svc: Running) -> None:
    calls = [watch(svc) for _ in range(30)]
    for call in calls:
        assert (await next_response(call)).caught_up
    feed = svc.service.revocations
    assert feed is not None and feed.watchers == 30
    if svc.service.settings.redis_mode == "standalone":
        clients = await svc.redis.client_list()
        assert sum(1 for c in clients if c.get("cmd") == "xread") <= 1
    created = await create(svc)
    await svc.stub.Revoke(pb.RevokeRequest(session_id=created.session.session_id))
    for call in calls:
        assert ids(await next_events(call)) == [[created.session.session_id]]
        call.cancel()
    deadline = time.monotonic() + 5
    while feed.watchers:  # the server notices the cancellations
        assert time.monotonic() < deadline, f"{feed.watchers} watchers left behind"
        await asyncio.sleep(0.02)


async def test_stopping_the_server_ends_watch_streams_at_once(start_service: ServiceFactory) -> None:
    r = await start_service()
    call = watch(r)
    assert (await next_response(call)).caught_up
    started = time.monotonic()
    await r.service.stop(grace=10)
    assert time.monotonic() - started < 3, "open watch streams must not hold the drain"
    assert await asyncio.wait_for(call.read(), 5) is grpc.aio.EOF


async def test_a_watcher_that_falls_behind_replays_instead_of_growing_a_queue(
    redis_server: RedisServerProcess,
) -> None:
    client = Redis.from_url(redis_server.url)
    key = f"lag{time.monotonic_ns()}:{{revocations}}"
    feed = RedisRevocationFeed(client, key, block_s=0.1, max_queued=2, page_size=3)
    try:
        stream = feed.watch("")
        assert (await anext(stream)).caught_up
        # 12 events, each read by the reader on its own, while this watcher reads nothing.
        for i in range(12):
            await client.xadd(key, {"at": i, "exp": i, "sids": f"s.{i}"})
            await asyncio.sleep(0.03)
        seen: list[str] = []
        while len(seen) < 12:
            batch = await asyncio.wait_for(anext(stream), 5)
            seen += [sid for r in batch.revocations for sid in r.session_ids]
        assert seen == [f"s.{i}" for i in range(12)]
        await stream.aclose()
    finally:
        await feed.close()
        await client.aclose()


async def test_a_long_replay_comes_in_pages_and_ends_caught_up(redis_server: RedisServerProcess) -> None:
    client = Redis.from_url(redis_server.url)
    key = f"pages{time.monotonic_ns()}:{{revocations}}"
    feed = RedisRevocationFeed(client, key, block_s=0.1, page_size=3)
    try:
        for i in range(7):
            await client.xadd(key, {"at": i, "exp": i, "sids": f"s.{i}"})
        stream = feed.watch("")
        batches = [await anext(stream) for _ in range(3)]
        assert [len(b.revocations) for b in batches] == [3, 3, 1]
        assert [b.caught_up for b in batches] == [False, False, True]
        assert [sid for b in batches for r in b.revocations for sid in r.session_ids] == [
            f"s.{i}" for i in range(7)
        ]
        await stream.aclose()
        # Resuming mid-way: the rest, and an unknown cursor's flag only on the first page.
        stream = feed.watch(batches[0].cursor)
        assert [len(b.revocations) for b in [await anext(stream), await anext(stream)]] == [3, 1]
        await stream.aclose()
        stream = feed.watch("99999999999999-0")
        first, second = await anext(stream), await anext(stream)
        assert (first.cursor_reset, second.cursor_reset) == (True, False)
        await stream.aclose()
    finally:
        await feed.close()
        await client.aclose()


async def test_no_heartbeats_while_the_relay_is_behind(redis_server: RedisServerProcess) -> None:
    # A heartbeat tells verifiers "nothing is missing up to now"; while an event cannot
    # reach the stream that would be false, so none is sent and verifiers go stale.
    client = Redis.from_url(redis_server.url)
    key = f"lagging{time.monotonic_ns()}:{{revocations}}"
    behind = [True]
    feed = RedisRevocationFeed(client, key, block_s=0.05, heartbeat_s=0.1, lagging=lambda: behind[0])
    try:
        stream = feed.watch("")
        assert (await anext(stream)).caught_up
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(stream), 0.5)
        stream = feed.watch("")
        assert (await anext(stream)).caught_up
        behind[0] = False
        heartbeat = await asyncio.wait_for(anext(stream), 2)
        assert heartbeat.revocations == ()
        await stream.aclose()
    finally:
        await feed.close()
        await client.aclose()


async def test_the_relay_ends_on_the_stopping_flag_without_a_cancellation(svc: Running) -> None:
    # A cancellation absorbed inside a Redis call must not keep a stopping replica's relay
    # going: the loop also watches the service's stopping flag, in its pauses and its passes.
    relay = svc.service.store.relay
    stopping = asyncio.Event()
    task = asyncio.create_task(relay.run(stopping))
    await asyncio.sleep(0.2)
    assert not task.done()
    stopping.set()
    await asyncio.wait_for(task, 2)
