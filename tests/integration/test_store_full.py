"""Redis at maxmemory with noeviction: new data is refused with a clear status, logging
out works in every form, and nothing already stored is lost or corrupted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
from redis.asyncio import Redis
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

from session_service.app import Service, start
from session_service.config import Settings
from session_service.store.embedded import RedisServerProcess
from session_service.tokens.keyring import Keyring
from tests.conftest import expect_error, free_port, refresh_token_keys_file, stop_within


@pytest.fixture
def small_redis() -> Iterator[RedisServerProcess]:
    server = RedisServerProcess(
        "redis-server", free_port(), "--maxmemory", "4mb", "--maxmemory-policy", "noeviction"
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def full_service(small_redis: RedisServerProcess, keyring: Keyring) -> AsyncIterator[Service]:
    service = await start(
        Settings(
            host="127.0.0.1",
            port=0,
            redis_url=small_redis.url,
            redis_prefix="full",
            metrics_port=0,
            max_sessions_per_user=0,
            create_rate_per_user=0,
            refresh_rate_per_user=0,
            refresh_token_keys_file=refresh_token_keys_file(),
            allow_unauthenticated_callers=True,  # plaintext test servers, a real Redis
        ),
        keyring=keyring,
    )
    yield service
    await stop_within(service, 20)


async def test_at_maxmemory_create_fails_store_full_and_every_revoke_works(
    full_service: Service, small_redis: RedisServerProcess
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{full_service.port}") as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        # Users with a few sessions each, to revoke in every way later.
        kept: dict[str, list[pb.CreateResponse]] = {}
        for user in ("by-id", "by-refresh", "by-access", "everywhere", "others", "untouched"):
            kept[user] = [await stub.Create(pb.CreateRequest(user_id=user)) for _ in range(3)]
        # Fill Redis with fat sessions until it refuses.
        blob = b"x" * 60_000
        refused: grpc.aio.AioRpcError | None = None
        for i in range(400):
            try:
                await stub.Create(pb.CreateRequest(user_id=f"filler{i}", data={"blob": blob}))
            except grpc.aio.AioRpcError as e:
                refused = e
                break
        assert refused is not None, "Redis never filled up"
        async with expect_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "STORE_FULL"):
            await stub.Create(pb.CreateRequest(user_id="late", data={"blob": blob}))
        async with expect_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "STORE_FULL"):
            await stub.Update(
                pb.UpdateRequest(session_id=kept["untouched"][0].session.session_id, set={"more": blob})
            )
        # Reads still work, and see the data as it was.
        got = await stub.Get(pb.GetRequest(session_id=kept["untouched"][1].session.session_id))
        assert got.session.user_id == "untouched" and got.session.version == 1
        page = await stub.List(pb.ListRequest(user_id="untouched"))
        assert len(page.sessions) == 3
        intro = await stub.Introspect(pb.IntrospectRequest(token=kept["untouched"][2].access_token))
        assert intro.active

        # Every form of logout works.
        r = await stub.Revoke(pb.RevokeRequest(session_id=kept["by-id"][0].session.session_id))
        assert r.revoked_count == 1
        r = await stub.Revoke(pb.RevokeRequest(refresh_token=kept["by-refresh"][0].refresh_token))
        assert r.revoked_count == 1
        r = await stub.Revoke(pb.RevokeRequest(access_token=kept["by-access"][0].access_token))
        assert r.revoked_count == 1
        r = await stub.Revoke(pb.RevokeRequest(user_id="everywhere"))
        assert r.revoked_count == 3
        keep = kept["others"][0].session.session_id
        r = await stub.Revoke(pb.RevokeRequest(user_id="others", except_session_id=keep))
        assert r.revoked_count == 2
        for user, revoked in (("by-id", 0), ("by-refresh", 0), ("by-access", 0)):
            async with expect_error(grpc.StatusCode.NOT_FOUND, "SESSION_NOT_FOUND"):
                await stub.Get(pb.GetRequest(session_id=kept[user][revoked].session.session_id))
        assert len((await stub.List(pb.ListRequest(user_id="everywhere"))).sessions) == 0
        assert [s.session_id for s in (await stub.List(pb.ListRequest(user_id="others"))).sessions] == [keep]
        # A revoked session's access token is inactive at once.
        intro = await stub.Introspect(pb.IntrospectRequest(token=kept["by-access"][0].access_token))
        assert not intro.active

    # Redis itself confirms it was at its limit throughout, and every logout reached the
    # revocation stream (the relay's scripts run at maxmemory too), so local verifiers and
    # gateways hear of it, with its reason.
    ended = {
        kept["by-id"][0].session.session_id: b"logout",
        kept["by-refresh"][0].session.session_id: b"logout",
        kept["by-access"][0].session.session_id: b"logout",
        **{c.session.session_id: b"logout_everywhere" for c in kept["everywhere"]},
        **{c.session.session_id: b"logout_other_devices" for c in kept["others"][1:]},
    }
    raw = Redis.from_url(small_redis.url)
    try:
        published: dict[str, bytes] = {}
        for _ in range(100):
            entries: Any = await raw.xrange("full:{revocations}")
            for _, fields in entries:
                for sid in fields[b"sids"].decode().split():
                    published[sid] = fields[b"reason"]
            if published.keys() >= ended.keys():
                break
            await asyncio.sleep(0.05)
        assert {sid: published.get(sid) for sid in ended} == ended
        info = await raw.info("memory")
        assert info["maxmemory_policy"] == "noeviction"
        assert info["used_memory"] > info["maxmemory"] * 0.9
    finally:
        await raw.aclose()
