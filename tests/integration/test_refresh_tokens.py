"""Refresh tokens over real gRPC on both topologies: a rotated token is recognised however many
rotations followed (no memory limit to launder it through), Revoke takes any token ever
issued for the session, the MAC is checked before the store, and generation-less tokens keep
working until they rotate."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import logging
import secrets

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from session_wire.v1 import session_pb2 as pb

from session_service.app import start
from session_service.audit import AUDIT_LOGGER_NAME
from session_service.config import Settings
from session_service.domain.ids import RETIRED_HASH_CHARS, parse_refresh_token
from session_service.errors import ConfigError
from session_service.tokens.keyring import Keyring
from tests.conftest import RedisTarget, Running, ServiceFactory, expect_error
from tests.integration.test_revocations import replay

NOT_FOUND = grpc.StatusCode.NOT_FOUND
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


async def create(r: Running, user: str) -> pb.CreateResponse:
    return await r.stub.Create(pb.CreateRequest(user_id=user))


async def rotate(r: Running, token: str, times: int) -> str:
    """The refresh token after ``times`` rotations starting from ``token``."""
    for _ in range(times):
        token = (await r.stub.Refresh(pb.RefreshRequest(refresh_token=token))).refresh_token
    return token


def stored_digest(token: str) -> bytes:
    """The raw SHA-256 of a refresh token's secret: what a compact session keeps of it."""
    parsed = parse_refresh_token(token)
    assert parsed is not None
    return hashlib.sha256(parsed.secret).digest()


def session_key(r: Running, session_id: str) -> str:
    tag, nonce = session_id.split(".")
    return f"{r.prefix}:{{{tag}}}:s:{nonce}"


async def assert_ended_for_reuse(r: Running, created: pb.CreateResponse, thiefs: str) -> None:
    """The session is gone, the thief's token worthless, and the end is on the feed."""
    sid = created.session.session_id
    async with expect_error(NOT_FOUND, "SESSION_NOT_FOUND"):
        await r.stub.Get(pb.GetRequest(session_id=sid))
    async with expect_error(UNAUTHENTICATED, "REFRESH_TOKEN_INVALID"):
        await r.stub.Refresh(pb.RefreshRequest(refresh_token=thiefs))
    feed = await replay(r)
    assert [(list(e.session_ids), e.reason) for e in feed.revocations] == [
        ([sid], pb.REVOCATION_REASON_REFRESH_TOKEN_REUSE)
    ]


async def test_a_token_rotated_65_times_ago_is_still_reuse(
    start_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # The thief's copy rotates past what a memory of the last 64 rotations would hold.
    r = await start_service(refresh_grace=0, refresh_rate_per_user=0)
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER_NAME)
    victim = await create(r, "victim")
    thiefs = await rotate(r, victim.refresh_token, 65)
    async with expect_error(UNAUTHENTICATED, "REFRESH_TOKEN_REUSED"):
        await r.stub.Refresh(pb.RefreshRequest(refresh_token=victim.refresh_token))
    await assert_ended_for_reuse(r, victim, thiefs)
    events = [json.loads(x.getMessage()) for x in caplog.records if x.name == AUDIT_LOGGER_NAME]
    (detected,) = [e for e in events if e["event"] == "refresh_token_reuse_detected"]
    assert (detected["session_id"], detected["user_id"]) == (victim.session.session_id, "victim")


async def test_laundering_through_1000_rotations_still_ends_in_reuse_in_constant_memory(
    start_service: ServiceFactory,
) -> None:
    r = await start_service(refresh_grace=0, refresh_rate_per_user=0)
    victim = await create(r, "laundered")
    key = session_key(r, victim.session.session_id)
    thiefs = await rotate(r, victim.refresh_token, 1)
    fields_after_one = await r.redis.hlen(key)
    thiefs = await rotate(r, thiefs, 999)
    assert await r.redis.hlen(key) == fields_after_one  # nothing accumulates per rotation
    assert parse_refresh_token(thiefs).generation == 1001  # type: ignore[union-attr]
    async with expect_error(UNAUTHENTICATED, "REFRESH_TOKEN_REUSED"):
        await r.stub.Refresh(pb.RefreshRequest(refresh_token=victim.refresh_token))
    await assert_ended_for_reuse(r, victim, thiefs)


async def test_a_token_with_a_bad_mac_is_invalid_and_ends_nothing(svc: Running) -> None:
    created = await create(svc, "mallory")
    current = await rotate(svc, created.refresh_token, 3)
    parsed = parse_refresh_token(current)
    assert parsed is not None and parsed.generation == 4
    # Made-up tokens of the session: an earlier generation (which would be reuse if the
    # service had issued it) and the current one with another secret, neither under our MAC.
    forged = [
        dataclasses.replace(parsed, generation=2),
        dataclasses.replace(parsed, secret=secrets.token_bytes(32)),
        dataclasses.replace(parsed, mac=bytes(b ^ 1 for b in parsed.mac)),
    ]
    for token in forged:
        async with expect_error(UNAUTHENTICATED, "REFRESH_TOKEN_INVALID"):
            await svc.stub.Refresh(pb.RefreshRequest(refresh_token=str(token)))
        assert (await svc.stub.Revoke(pb.RevokeRequest(refresh_token=str(token)))).revoked_count == 0
        assert not (await svc.stub.Introspect(pb.IntrospectRequest(token=str(token)))).active
    assert (await svc.stub.Get(pb.GetRequest(session_id=created.session.session_id))).session
    await rotate(svc, current, 1)  # the real current token still works


async def test_log_out_with_an_older_token_after_several_rotations_ends_the_session(svc: Running) -> None:
    created = await create(svc, "logout")
    current = await rotate(svc, created.refresh_token, 4)
    revoked = await svc.stub.Revoke(pb.RevokeRequest(refresh_token=created.refresh_token))
    assert revoked.revoked_count == 1
    async with expect_error(NOT_FOUND, "SESSION_NOT_FOUND"):
        await svc.stub.Get(pb.GetRequest(session_id=created.session.session_id))
    async with expect_error(UNAUTHENTICATED, "REFRESH_TOKEN_INVALID"):
        await svc.stub.Refresh(pb.RefreshRequest(refresh_token=current))
    feed = await replay(svc)
    assert [(list(e.session_ids), e.reason) for e in feed.revocations] == [
        ([created.session.session_id], pb.REVOCATION_REASON_LOGOUT)
    ]


def _generation_less_token(session_id: str) -> tuple[str, str]:
    """A token of the format without generation or MAC, and the hash a session keeps of it."""
    secret = secrets.token_bytes(32)
    token = f"{session_id}.{base64.urlsafe_b64encode(secret).rstrip(b'=').decode()}"
    return token, hashlib.sha256(secret).hexdigest()


async def _as_generation_less(r: Running, created: pb.CreateResponse) -> str:
    """Rewrites a new session as one whose current token has no generation; returns that token."""
    token, digest = _generation_less_token(created.session.session_id)
    key = session_key(r, created.session.session_id)
    await r.redis.hdel(key, "rg")
    await r.redis.hset(key, "rt", digest)
    return token


@pytest.mark.parametrize("remembered", ["last", "ring", "string"])
async def test_a_generation_less_token_refreshes_once_and_its_reuse_is_detected(
    start_service: ServiceFactory, remembered: str
) -> None:
    r = await start_service(refresh_grace=0)
    created = await create(r, "legacy")
    current = await _as_generation_less(r, created)
    presented = current
    if remembered != "last":
        # An earlier generation-less token, remembered in a ring field or in the one string.
        presented, digest = _generation_less_token(created.session.session_id)
        short = digest[:RETIRED_HASH_CHARS]
        key = session_key(r, created.session.session_id)
        if remembered == "ring":
            await r.redis.hset(key, mapping={"o0": bytes.fromhex(short), "on": 1})
        else:
            await r.redis.hset(key, "rt_old", short)
    successor = await r.stub.Refresh(pb.RefreshRequest(refresh_token=current))
    assert parse_refresh_token(successor.refresh_token).generation == 1  # type: ignore[union-attr]
    thiefs = await rotate(r, successor.refresh_token, 2)
    async with expect_error(UNAUTHENTICATED, "REFRESH_TOKEN_REUSED"):
        await r.stub.Refresh(pb.RefreshRequest(refresh_token=presented))
    await assert_ended_for_reuse(r, created, thiefs)


async def test_revoke_with_a_rotated_generation_less_token_ends_the_session(svc: Running) -> None:
    created = await create(svc, "legacy-logout")
    old = await _as_generation_less(svc, created)
    await rotate(svc, old, 3)
    assert (await svc.stub.Revoke(pb.RevokeRequest(refresh_token=old))).revoked_count == 1
    async with expect_error(NOT_FOUND, "SESSION_NOT_FOUND"):
        await svc.stub.Get(pb.GetRequest(session_id=created.session.session_id))


async def test_replicas_sharing_the_key_file_accept_each_others_tokens(start_service: ServiceFactory) -> None:
    a = await start_service(refresh_grace=0)
    b = await start_service(refresh_grace=0, redis_prefix=a.prefix)
    created = await create(a, "replicas")
    rotated = await b.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    async with expect_error(UNAUTHENTICATED, "REFRESH_TOKEN_REUSED"):
        await a.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    async with expect_error(UNAUTHENTICATED, "REFRESH_TOKEN_INVALID"):
        await b.stub.Refresh(pb.RefreshRequest(refresh_token=rotated.refresh_token))


async def test_a_real_redis_without_a_key_file_refuses_to_start(
    redis_target: RedisTarget, keyring: Keyring
) -> None:
    settings = Settings(
        host="127.0.0.1",
        port=0,
        metrics_port=0,
        redis_url=redis_target.url,
        redis_mode=redis_target.mode,
        allow_unauthenticated_callers=True,  # the refusal looked for is the key file's
    )
    with pytest.raises(ConfigError) as info:
        await start(settings, keyring=keyring)
    assert info.value.setting == "SESSION_REFRESH_TOKEN_KEYS_FILE"


async def test_refresh_reuse_memory_is_accepted_with_a_deprecation_warning(
    start_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="session_service.app")
    await start_service(refresh_reuse_memory=3)
    assert any("SESSION_REFRESH_REUSE_MEMORY is deprecated" in x.getMessage() for x in caplog.records)


async def test_a_compact_session_stores_no_derived_field_and_its_token_hash_raw(svc: Running) -> None:
    # The smallest stored session: the hash as 32 raw bytes (not 64 hex digits); no idle
    # expiry (derived), no version until an Update, no auth_time the login did not say.
    created = await create(svc, "compact")
    sid = created.session.session_id
    stored = await svc.redis.hgetall(session_key(svc, sid))
    assert stored[b"rt"] == stored_digest(created.refresh_token)
    assert not {b"at", b"idle_exp", b"ver", b"active"} & stored.keys()
    # Until its first touch a session was last active when it was created.
    assert (await svc.stub.Introspect(pb.IntrospectRequest(token=created.access_token))).active
    assert (await svc.stub.Introspect(pb.IntrospectRequest(token=created.refresh_token))).active
    listed = (await svc.stub.List(pb.ListRequest(user_id="compact"))).sessions
    assert [s.last_active_at for s in listed] == [created.session.created_at]
    assert listed[0].idle_expires_at == created.session.idle_expires_at
    got = (await svc.stub.Get(pb.GetRequest(session_id=sid))).session
    assert got.auth_time == got.created_at and got.version == 1
    assert got.idle_expires_at.ToMilliseconds() == min(
        got.last_active_at.ToMilliseconds() + 86_400_000, got.absolute_expires_at.ToMilliseconds()
    )
    updated = await svc.stub.Update(pb.UpdateRequest(session_id=sid, expected_version=1, set={"k": b"v"}))
    assert updated.session.version == 2
    async with expect_error(grpc.StatusCode.ABORTED, "VERSION_MISMATCH"):
        await svc.stub.Update(pb.UpdateRequest(session_id=sid, expected_version=1, set={"k": b"w"}))
    refreshed = await svc.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    stored = await svc.redis.hgetall(session_key(svc, sid))
    assert stored[b"rt"] == stored_digest(refreshed.refresh_token)
    assert b"idle_exp" not in stored
    # The first touch stores the activity.
    got = (await svc.stub.Get(pb.GetRequest(session_id=sid))).session
    assert int(stored[b"active"]) == got.last_active_at.ToMilliseconds() >= got.created_at.ToMilliseconds()
    # A login that says when the user authenticated keeps it.
    when = created.session.created_at.seconds - 60
    told = await svc.stub.Create(pb.CreateRequest(user_id="compact", auth_time=Timestamp(seconds=when)))
    assert told.session.auth_time.seconds == when
    assert b"at" in await svc.redis.hgetall(session_key(svc, told.session.session_id))


@pytest.mark.parametrize("action", ["get", "update", "refresh", "introspect", "revoke"])
async def test_a_full_layout_session_works_on_a_compact_replica(
    start_service: ServiceFactory, action: str
) -> None:
    # SESSION_REDIS_COMPACT_SESSIONS=false stores what replicas of earlier releases wrote and
    # read (idle_exp, ver, the token hash in hex); the compact replica serves it all.
    full = await start_service(redis_compact_sessions=False)
    svc = await start_service(redis_prefix=full.prefix)
    created = await create(full, "full-layout")
    sid = created.session.session_id
    key = session_key(svc, sid)
    stored = await svc.redis.hgetall(key)
    assert stored[b"rt"] == stored_digest(created.refresh_token).hex().encode()
    assert (
        stored[b"ver"] == b"1"
        and int(stored[b"idle_exp"]) == created.session.idle_expires_at.ToMilliseconds()
    )
    if action == "get":
        await svc.redis.hset(key, "active", 1)  # a stored idle expiry is believed, not derived
        got = (await svc.stub.Get(pb.GetRequest(session_id=sid))).session
        assert got.idle_expires_at.ToMilliseconds() >= created.session.idle_expires_at.ToMilliseconds()
        assert int((await svc.redis.hgetall(key))[b"idle_exp"]) == got.idle_expires_at.ToMilliseconds()
    elif action == "update":
        updated = await svc.stub.Update(pb.UpdateRequest(session_id=sid, expected_version=1, set={"k": b"v"}))
        assert updated.session.version == 2 and (await svc.redis.hget(key, "ver")) == b"2"
    elif action == "refresh":
        await asyncio.sleep(0.01)  # so that the slide moves the idle expiry
        refreshed = await svc.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
        # The compact replica kept the full layout's idle expiry in step with the index.
        tag, nonce = sid.split(".")
        score = await svc.redis.zscore(f"{svc.prefix}:{{{tag}}}:u", nonce)
        assert int((await svc.redis.hgetall(key))[b"idle_exp"]) == score
        assert score > created.session.idle_expires_at.ToMilliseconds()
        assert (
            await full.stub.Refresh(pb.RefreshRequest(refresh_token=refreshed.refresh_token))
        ).refresh_token
        async with expect_error(UNAUTHENTICATED, "REFRESH_TOKEN_REUSED"):
            await svc.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    elif action == "introspect":
        assert (await svc.stub.Introspect(pb.IntrospectRequest(token=created.refresh_token))).active
        await svc.redis.hset(key, "rt", hashlib.sha256(b"another secret").hexdigest())
        assert not (await svc.stub.Introspect(pb.IntrospectRequest(token=created.refresh_token))).active
    else:
        await svc.stub.Revoke(pb.RevokeRequest(refresh_token=created.refresh_token))
        async with expect_error(NOT_FOUND, "SESSION_NOT_FOUND"):
            await full.stub.Get(pb.GetRequest(session_id=sid))
