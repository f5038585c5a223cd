"""Bounds under abuse: per-user rate limits in Redis (shared by every replica), per-caller
limits and the concurrency caps of one replica, all refused with a reason and a delay."""

from __future__ import annotations

import asyncio

import grpc
from session_client.status import error_details
from session_wire.v1 import session_pb2 as pb

from session_service.store.scripts import ScriptCode
from tests.conftest import Running, ServiceFactory, expect_error

RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_create_flood_for_one_user_is_rate_limited_across_replicas_with_a_retry_delay(
    start_service: ServiceFactory,
) -> None:
    first = await start_service(create_rate_per_user=1.0, create_burst_per_user=5, max_sessions_per_user=0)
    # A second replica on the same Redis: the budget is the user's, not the replica's.
    second = await start_service(
        create_rate_per_user=1.0, create_burst_per_user=5, redis_prefix=first.prefix, max_sessions_per_user=0
    )
    for i in range(5):
        await (first if i % 2 else second).stub.Create(pb.CreateRequest(user_id="flood"))
    for replica in (first, second):
        async with expect_error(RESOURCE_EXHAUSTED, "RATE_LIMITED") as caught:
            await replica.stub.Create(pb.CreateRequest(user_id="flood"))
        delay = error_details(caught[0]).retry_after
        assert delay is not None and 0 < delay <= 1.0
    # Other users are not affected.
    await first.stub.Create(pb.CreateRequest(user_id="bystander"))
    # The budget refills at the configured rate.
    await asyncio.sleep(1.05)
    await second.stub.Create(pb.CreateRequest(user_id="flood"))


async def test_refresh_flood_for_one_user_is_rate_limited(start_service: ServiceFactory) -> None:
    r = await start_service(refresh_rate_per_user=0.5, refresh_burst_per_user=3, refresh_grace=0)
    token = (await r.stub.Create(pb.CreateRequest(user_id="spinner"))).refresh_token
    for _ in range(3):
        token = (await r.stub.Refresh(pb.RefreshRequest(refresh_token=token))).refresh_token
    async with expect_error(RESOURCE_EXHAUSTED, "RATE_LIMITED") as caught:
        await r.stub.Refresh(pb.RefreshRequest(refresh_token=token))
    assert 0 < (error_details(caught[0]).retry_after or 0) <= 2.0
    # A refused refresh rotated nothing: the same token still works once the budget refills,
    # and it is not mistaken for reuse.
    await asyncio.sleep(2.05)
    await r.stub.Refresh(pb.RefreshRequest(refresh_token=token))


async def test_user_limit_is_on_by_default_and_evicts_the_least_recently_active(
    start_service: ServiceFactory,
) -> None:
    r = await start_service(create_rate_per_user=0)
    assert r.service.settings.max_sessions_per_user == 100
    created = [await r.stub.Create(pb.CreateRequest(user_id="hoarder")) for _ in range(101)]
    assert created[-1].session.session_id
    async with expect_error(grpc.StatusCode.NOT_FOUND, "SESSION_NOT_FOUND"):
        await r.stub.Get(pb.GetRequest(session_id=created[0].session.session_id))
    listed = await r.stub.List(pb.ListRequest(user_id="hoarder", page_size=1000))
    assert len(listed.sessions) == 100


async def test_one_caller_over_its_rate_is_refused_with_a_delay(start_service: ServiceFactory) -> None:
    r = await start_service(caller_rate_limit=20)
    results = await asyncio.gather(
        *(r.stub.GetJwks(pb.GetJwksRequest()) for _ in range(60)), return_exceptions=True
    )
    refused = [e for e in results if isinstance(e, grpc.aio.AioRpcError)]
    assert 0 < len(refused) <= 40
    for e in refused:
        details = error_details(e)
        assert (details.code, details.reason) == (RESOURCE_EXHAUSTED, "RATE_LIMITED")
        assert details.retry_after is not None and 0 < details.retry_after <= 1.0
    # Health checks are never rate limited (probes must keep telling the truth).
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    health = health_pb2_grpc.HealthStub(r.channel)
    for _ in range(30):
        await health.Check(health_pb2.HealthCheckRequest())


async def test_calls_over_the_concurrency_cap_are_shed_at_once(start_service: ServiceFactory) -> None:
    r = await start_service(max_concurrent_rpcs=2, create_rate_per_user=0)
    # Redis holds every write for a moment (CLIENT PAUSE WRITE), so admitted calls stay in
    # flight while the rest arrive, however fast or busy this machine is.
    if r.service.settings.redis_mode == "cluster":
        await r.redis.client_pause(400, all=False, target_nodes=r.redis.get_primaries())
    else:
        await r.redis.client_pause(400, all=False)
    results = await asyncio.gather(
        *(r.stub.Create(pb.CreateRequest(user_id=f"burst{i}")) for i in range(60)), return_exceptions=True
    )
    refused = [e for e in results if isinstance(e, grpc.aio.AioRpcError)]
    assert refused, "60 concurrent calls never exceeded a cap of 2"
    assert len(refused) < 60
    for e in refused:
        details = error_details(e)
        assert (details.code, details.reason) == (RESOURCE_EXHAUSTED, "OVERLOADED")
        assert details.retry_after is not None
    # Nothing stays counted: afterwards calls go through again.
    for i in range(5):
        await r.stub.Create(pb.CreateRequest(user_id=f"after{i}"))


async def test_watchers_over_the_cap_are_refused_and_a_closed_one_frees_its_place(
    start_service: ServiceFactory,
) -> None:
    r = await start_service(max_watchers=1)
    first = r.stub.WatchRevocations(pb.WatchRevocationsRequest())
    assert _caught_up(await first.read())
    second = r.stub.WatchRevocations(pb.WatchRevocationsRequest())
    async with expect_error(RESOURCE_EXHAUSTED, "OVERLOADED"):
        await second.read()
    first.cancel()
    await _watch_again(r)


async def test_one_caller_may_hold_only_its_share_of_watchers_until_one_ends(
    start_service: ServiceFactory,
) -> None:
    # Every stream here comes from 127.0.0.1 with no identity: one caller.
    r = await start_service(max_watchers=10, max_watchers_per_caller=2)
    first = r.stub.WatchRevocations(pb.WatchRevocationsRequest())
    second = r.stub.WatchRevocations(pb.WatchRevocationsRequest())
    assert _caught_up(await first.read()) and _caught_up(await second.read())
    third = r.stub.WatchRevocations(pb.WatchRevocationsRequest())
    async with expect_error(RESOURCE_EXHAUSTED, "OVERLOADED") as caught:
        await third.read()
    details = error_details(caught[0])
    assert "revocation watchers of this caller" in details.message
    assert details.retry_after is not None and details.retry_after > 0
    first.cancel()
    await _watch_again(r)
    second.cancel()


async def _watch_again(r: Running) -> None:
    """Opens a watch stream once an ended one's slot is free (within two seconds)."""
    for _ in range(100):
        again = r.stub.WatchRevocations(pb.WatchRevocationsRequest())
        try:
            assert _caught_up(await again.read())
            again.cancel()
            return
        except grpc.aio.AioRpcError:
            await asyncio.sleep(0.02)
    raise AssertionError("the ended stream's slot was never freed")


def _batch(size: int) -> pb.IntrospectBatchRequest:
    return pb.IntrospectBatchRequest(requests=[pb.IntrospectRequest(token=f"t{i}") for i in range(size)])


async def test_introspect_batch_is_charged_per_token_by_the_caller_rate_limit(
    start_service: ServiceFactory,
) -> None:
    r = await start_service(caller_rate_limit=20)
    assert len((await r.stub.IntrospectBatch(_batch(15))).responses) == 15
    # 15 of the second's 20 are spent: a batch of 10 is over the rest, though it is one call.
    async with expect_error(RESOURCE_EXHAUSTED, "RATE_LIMITED") as caught:
        await r.stub.IntrospectBatch(_batch(10))
    delay = error_details(caught[0]).retry_after
    assert delay is not None and 0 < delay <= 1.0
    # Single calls have the rest at most.
    results = await asyncio.gather(
        *(r.stub.GetJwks(pb.GetJwksRequest()) for _ in range(10)), return_exceptions=True
    )
    assert sum(isinstance(e, grpc.aio.AioRpcError) for e in results) >= 5
    # Once the budget refills, the batch goes through.
    await asyncio.sleep(delay + 1.0)
    assert len((await r.stub.IntrospectBatch(_batch(10))).responses) == 10


def _caught_up(message: object) -> bool:
    return isinstance(message, pb.WatchRevocationsResponse) and message.caught_up


async def test_list_pages_through_every_session_once_in_a_stable_order(start_service: ServiceFactory) -> None:
    r = await start_service(create_rate_per_user=0)
    ids = {(await r.stub.Create(pb.CreateRequest(user_id="pager"))).session.session_id for _ in range(23)}
    seen: list[str] = []
    token, pages = "", 0
    while True:
        page = await r.stub.List(pb.ListRequest(user_id="pager", page_size=5, page_token=token))
        assert len(page.sessions) <= 5
        seen += [s.session_id for s in page.sessions]
        pages += 1
        # A session created mid-listing does not disturb the pages (it lands where its id sorts).
        if pages == 2:
            ids.add((await r.stub.Create(pb.CreateRequest(user_id="pager"))).session.session_id)
        token = page.next_page_token
        if not token:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert set(seen) <= ids and len(ids - set(seen)) <= 1
    assert pages == 5
    # Defaults and bounds (AIP-158): 0 is the default size, a huge size is capped.
    assert len((await r.stub.List(pb.ListRequest(user_id="pager"))).sessions) == len(ids)
    assert len((await r.stub.List(pb.ListRequest(user_id="pager", page_size=10**9))).sessions) == len(ids)
    async with expect_error(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"):
        await r.stub.List(pb.ListRequest(user_id="pager", page_size=-1))
    # A token is bound to its user, and garbage is refused.
    other_user_token = (await r.stub.List(pb.ListRequest(user_id="pager", page_size=1))).next_page_token
    for bad in (other_user_token, "garbage!", "A" * 300):
        async with expect_error(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"):
            await r.stub.List(pb.ListRequest(user_id="someone-else", page_token=bad))


async def test_a_huge_index_is_paged_without_sorting_it_inside_a_script(
    start_service: ServiceFactory,
) -> None:
    # 1,500 index entries whose sessions are gone (as a crash between writes could leave)
    # and 3 live sessions: more than list.lua sorts itself on a single Redis, so the
    # index is read and the page named by the caller instead, in both topologies.
    r = await start_service(create_rate_per_user=0)
    live = sorted(
        [(await r.stub.Create(pb.CreateRequest(user_id="big"))).session.session_id for _ in range(3)]
    )
    _, index, prefix = r.service.store.keys.for_user("big")
    await r.redis.zadd(index, {f"stale{n:05d}": 1 for n in range(1500)})
    if r.service.settings.redis_mode != "cluster":
        reply = await r.service.store.runner.once(
            r.service.store.scripts.list, [index], [0, prefix, "big", 10, ""]
        )
        assert reply == [ScriptCode.INDEX_CHANGED]
    seen: list[str] = []
    token = ""
    for _ in range(200):
        page = await r.stub.List(pb.ListRequest(user_id="big", page_size=1000, page_token=token))
        seen += [s.session_id for s in page.sessions]
        token = page.next_page_token
        if not token:
            break
    assert seen == live
    assert await r.redis.zcard(index) == 3, "the stale entries were pruned as the pages went by"


async def test_revoked_sessions_vanish_from_later_pages(start_service: ServiceFactory) -> None:
    r = await start_service(create_rate_per_user=0)
    created = [await r.stub.Create(pb.CreateRequest(user_id="shrinking")) for _ in range(6)]
    first = await r.stub.List(pb.ListRequest(user_id="shrinking", page_size=3))
    listed_first = {s.session_id for s in first.sessions}
    for c in created:
        if c.session.session_id not in listed_first:
            await r.stub.Revoke(pb.RevokeRequest(session_id=c.session.session_id))
    rest = await r.stub.List(
        pb.ListRequest(user_id="shrinking", page_size=3, page_token=first.next_page_token)
    )
    assert list(rest.sessions) == [] and rest.next_page_token == ""
