"""Every RPC over a real gRPC channel against a real redis-server."""

from __future__ import annotations

import base64
import json
from typing import Any

import grpc
import jwt
import pytest
from session_client.status import error_details
from session_wire.v1 import session_pb2 as pb

from session_service.domain.ids import parse_session_id
from session_service.store.keys import KeySchema
from tests.conftest import FakeClock, Running, ServiceFactory, expect_error

NOT_FOUND = grpc.StatusCode.NOT_FOUND
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
INVALID = grpc.StatusCode.INVALID_ARGUMENT


async def create(r: Running, user: str = "alice", **fields: object) -> pb.CreateResponse:
    return await r.stub.Create(pb.CreateRequest(user_id=user, **fields))  # type: ignore[arg-type]


async def test_create_returns_session_and_tokens_that_verify_against_jwks(svc: Running) -> None:
    reply = await create(
        svc,
        claims={"role": "admin"},
        data={"cart": b"\x00\x01"},
        scopes=["read", "write"],
        client=pb.ClientInfo(ip="10.0.0.1", user_agent="curl", device="laptop"),
        client_id="web",
    )
    s = reply.session
    assert s.user_id == "alice" and s.version == 1
    assert dict(s.data) == {"cart": b"\x00\x01"} and dict(s.claims) == {"role": "admin"}
    assert list(s.scopes) == ["read", "write"] and s.client.device == "laptop" and s.client_id == "web"
    assert s.idle_expires_at.seconds - s.created_at.seconds == 86400
    assert s.absolute_expires_at.seconds - s.created_at.seconds == 1209600

    jwks = json.loads((await svc.stub.GetJwks(pb.GetJwksRequest())).jwks_json)
    header = jwt.get_unverified_header(reply.access_token)
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    key = jwt.PyJWK(jwk)
    claims = jwt.decode(reply.access_token, key.key, algorithms=[jwk["alg"]], audience="internal")
    assert claims["sub"] == "alice" and claims["sid"] == s.session_id and claims["iss"] == "session-service"
    assert claims["scope"] == "read write" and claims["client_id"] == "web" and claims["role"] == "admin"
    assert claims["exp"] - claims["iat"] == 900
    assert claims["exp"] == reply.access_token_expires_at.seconds
    assert header["alg"] == "EdDSA" and header["typ"] == "at+jwt"


@pytest.mark.parametrize(
    "request_",
    [
        pb.CreateRequest(user_id="plain"),
        pb.CreateRequest(
            user_id="ünïcødé user",
            claims={"role": "admin", "tenant": "ä"},
            data={"cart": b"\x00\xff binary", "empty": b"", "k" * 40: b"v" * 200},
            scopes=["read", "write", "read"],
            client=pb.ClientInfo(ip="2001:db8::1", user_agent="Mozilla/5.0 " + "x" * 100, device=""),
            client_id="web",
        ),
    ],
)
async def test_create_answers_the_session_exactly_as_stored(
    start_service: ServiceFactory, clock: FakeClock, request_: pb.CreateRequest
) -> None:
    # Create answers from what it sent and the expiries its script worked out, without
    # reading the hash back: a Get at the same instant (no slide) must read the same session.
    r = await start_service(clock=clock, idle_timeout=300, absolute_timeout=900)
    created = (await r.stub.Create(request_)).session
    assert created == (await r.stub.Get(pb.GetRequest(session_id=created.session_id))).session
    assert created.idle_expires_at.ToMilliseconds() == clock.ms + 300_000
    assert created.absolute_expires_at.ToMilliseconds() == clock.ms + 900_000


async def test_every_create_makes_a_new_session_id(svc: Running) -> None:
    ids = {(await create(svc)).session.session_id for _ in range(20)}
    assert len(ids) == 20


async def test_get_slides_idle_expiry_but_not_past_absolute(
    start_service: ServiceFactory, clock: FakeClock
) -> None:
    r = await start_service(clock=clock, idle_timeout=100, absolute_timeout=250)
    sid = (await create(r)).session.session_id
    clock.advance(90)
    s = (await r.stub.Get(pb.GetRequest(session_id=sid))).session
    assert s.idle_expires_at.seconds == s.last_active_at.seconds + 100
    clock.advance(90)
    s = (await r.stub.Get(pb.GetRequest(session_id=sid))).session
    clock.advance(60)  # 240 s after creation: the idle expiry is capped by the absolute one
    s = (await r.stub.Get(pb.GetRequest(session_id=sid))).session
    assert s.idle_expires_at == s.absolute_expires_at
    clock.advance(11)
    async with expect_error(NOT_FOUND, "SESSION_NOT_FOUND"):
        await r.stub.Get(pb.GetRequest(session_id=sid))


async def test_gets_within_a_second_of_the_last_slide_do_not_write(
    start_service: ServiceFactory, clock: FakeClock
) -> None:
    r = await start_service(clock=clock, idle_timeout=600)
    sid = (await create(r)).session.session_id
    clock.advance(5)
    slid = (await r.stub.Get(pb.GetRequest(session_id=sid))).session
    assert slid.last_active_at.seconds == clock.ms // 1000
    parsed = parse_session_id(sid)
    assert parsed is not None
    key = KeySchema(r.prefix).session(parsed)
    stored = await r.redis.hgetall(key)
    clock.advance(0.6)  # a hot session: read again within the second
    again = (await r.stub.Get(pb.GetRequest(session_id=sid))).session
    assert again == slid  # nothing moved, nothing written
    assert await r.redis.hgetall(key) == stored
    clock.advance(0.6)  # 1.2 s after the slide: this one slides
    later = (await r.stub.Get(pb.GetRequest(session_id=sid))).session
    assert later.idle_expires_at.ToMilliseconds() == clock.ms + 600_000
    assert later.last_active_at.ToMilliseconds() == clock.ms


async def test_idle_session_expires(start_service: ServiceFactory, clock: FakeClock) -> None:
    r = await start_service(clock=clock, idle_timeout=60)
    created = await create(r)
    clock.advance(61)
    async with expect_error(NOT_FOUND, "SESSION_NOT_FOUND"):
        await r.stub.Get(pb.GetRequest(session_id=created.session.session_id))
    async with expect_error(UNAUTHENTICATED, "REFRESH_TOKEN_INVALID"):
        await r.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    assert list((await r.stub.List(pb.ListRequest(user_id="alice"))).sessions) == []


async def test_redis_keys_carry_ttls_so_nothing_needs_a_sweeper(svc: Running) -> None:
    await create(svc)
    keys = await svc.redis.keys(f"{svc.prefix}:*")
    # The session, the user's index, and the user's Create rate-limit bucket.
    kinds = sorted("session" if b":s:" in k else k.decode().rpartition("}:")[2] for k in keys)
    assert kinds == ["rl:c", "session", "u"]
    for key in keys:
        ttl = await svc.redis.pttl(key)
        assert 0 < ttl <= 1209600 * 1000
    (bucket,) = [k for k in keys if k.endswith(b":rl:c")]
    # The bucket lives only until it would be full again (burst / rate, plus a second).
    assert await svc.redis.pttl(bucket) <= (30 / 0.5 + 1) * 1000


async def test_refresh_rotates_and_old_token_reuse_revokes_session(start_service: ServiceFactory) -> None:
    r = await start_service(refresh_grace=0)
    created = await create(r)
    first = await r.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    assert first.refresh_token != created.refresh_token
    assert first.access_token != created.access_token
    second = await r.stub.Refresh(pb.RefreshRequest(refresh_token=first.refresh_token))
    # The thief (or the victim) presents a rotated token: the whole session ends.
    async with expect_error(UNAUTHENTICATED, "REFRESH_TOKEN_REUSED"):
        await r.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    async with expect_error(NOT_FOUND, "SESSION_NOT_FOUND"):
        await r.stub.Get(pb.GetRequest(session_id=created.session.session_id))
    async with expect_error(UNAUTHENTICATED, "REFRESH_TOKEN_INVALID"):
        await r.stub.Refresh(pb.RefreshRequest(refresh_token=second.refresh_token))
    reply = await r.stub.Introspect(pb.IntrospectRequest(token=second.access_token))
    assert not reply.active


async def test_duplicate_refresh_within_grace_gets_same_successor(
    start_service: ServiceFactory, clock: FakeClock
) -> None:
    r = await start_service(clock=clock, refresh_grace=5)
    created = await create(r)
    a = await r.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    clock.advance(4)
    b = await r.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    assert a.refresh_token == b.refresh_token
    # After the window the same duplicate is reuse.
    clock.advance(2)
    async with expect_error(UNAUTHENTICATED, "REFRESH_TOKEN_REUSED"):
        await r.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))


async def test_a_typical_session_stays_in_the_compact_hash_encoding_across_refreshes(svc: Running) -> None:
    # Redis keeps a hash whose values are all at most 64 bytes as a listpack, about half
    # the size of a hashtable; the sealed grace successor is the longest value we write.
    created = await svc.stub.Create(
        pb.CreateRequest(
            user_id="compact",
            claims={"tenant": "acme", "role": "member"},
            data={"locale": b"en-GB"},
            scopes=["openid", "profile"],
            client=pb.ClientInfo(
                ip="203.0.113.7", user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"
            ),
            client_id="web",
        )
    )
    token = created.refresh_token
    for _ in range(10):
        token = (await svc.stub.Refresh(pb.RefreshRequest(refresh_token=token))).refresh_token
    nonce = created.session.session_id.partition(".")[2]
    keys = [k async for k in svc.redis.scan_iter(match=f"{svc.prefix}:*:s:{nonce}")]
    assert len(keys) == 1
    assert await svc.redis.object("encoding", keys[0]) == b"listpack"
    assert max(len(v) for v in (await svc.redis.hgetall(keys[0])).values()) <= 64


async def test_forged_refresh_secret_neither_works_nor_revokes(svc: Running) -> None:
    created = await create(svc)
    sid = created.session.session_id
    forged = sid + "." + "A" * 43
    async with expect_error(UNAUTHENTICATED, "REFRESH_TOKEN_INVALID"):
        await svc.stub.Refresh(pb.RefreshRequest(refresh_token=forged))
    async with expect_error(UNAUTHENTICATED, "REFRESH_TOKEN_INVALID"):
        await svc.stub.Refresh(pb.RefreshRequest(refresh_token="not-a-token"))
    assert (await svc.stub.Get(pb.GetRequest(session_id=sid))).session.session_id == sid


async def test_redis_holds_no_usable_token(svc: Running) -> None:
    created = await create(svc)
    refreshed = await svc.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    dump = b""
    for key in await svc.redis.keys(f"{svc.prefix}:*"):
        dump += key + (await svc.redis.dump(key) or b"")
        if await svc.redis.type(key) == b"hash":
            for field, value in (await svc.redis.hgetall(key)).items():
                dump += field + value
    for token in (created.refresh_token, refreshed.refresh_token):
        secret = token.rsplit(".", 1)[-1]
        assert secret.encode() not in dump
        assert base64.urlsafe_b64decode(secret + "=") not in dump
    for token in (created.access_token, refreshed.access_token):
        assert token.encode() not in dump and token.rsplit(".", 1)[-1].encode() not in dump


async def test_introspect_reports_active_access_and_refresh_tokens(svc: Running) -> None:
    created = await create(svc, scopes=["read"], client_id="web")
    a = await svc.stub.Introspect(pb.IntrospectRequest(token=created.access_token))
    assert a.active and a.token_type == "access_token" and a.sub == "alice"
    assert a.sid == created.session.session_id and a.scope == "read" and a.client_id == "web"
    assert a.iss == "session-service" and a.aud == "internal" and a.jti
    assert a.exp - a.iat == 900 and a.nbf == a.iat
    rt = await svc.stub.Introspect(
        pb.IntrospectRequest(token=created.refresh_token, token_type_hint="refresh_token")
    )
    assert rt.active and rt.token_type == "refresh_token" and rt.sid == created.session.session_id
    # A wrong hint does not hide an active token (RFC 7662 section 2.1).
    wrong = await svc.stub.Introspect(
        pb.IntrospectRequest(token=created.refresh_token, token_type_hint="access_token")
    )
    assert wrong.active and wrong.token_type == "refresh_token"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."])
async def test_introspect_of_invalid_token_is_inactive_not_error(svc: Running, token: str) -> None:
    reply = await svc.stub.Introspect(pb.IntrospectRequest(token=token))
    assert reply == pb.IntrospectResponse(active=False)


async def test_revocation_is_instant_for_introspection(svc: Running) -> None:
    created = await create(svc)
    assert (await svc.stub.Introspect(pb.IntrospectRequest(token=created.access_token))).active
    revoked = await svc.stub.Revoke(pb.RevokeRequest(session_id=created.session.session_id))
    assert revoked.revoked_count == 1
    assert not (await svc.stub.Introspect(pb.IntrospectRequest(token=created.access_token))).active
    assert not (await svc.stub.Introspect(pb.IntrospectRequest(token=created.refresh_token))).active
    again = await svc.stub.Revoke(pb.RevokeRequest(session_id=created.session.session_id))
    assert again.revoked_count == 0  # idempotent


async def test_revoke_by_refresh_token_and_by_access_token(svc: Running) -> None:
    a, b = await create(svc), await create(svc)
    assert (await svc.stub.Revoke(pb.RevokeRequest(refresh_token=a.refresh_token))).revoked_count == 1
    assert (await svc.stub.Revoke(pb.RevokeRequest(access_token=b.access_token))).revoked_count == 1
    for created in (a, b):
        async with expect_error(NOT_FOUND, "SESSION_NOT_FOUND"):
            await svc.stub.Get(pb.GetRequest(session_id=created.session.session_id))
    # RFC 7009: an invalid token is not an error.
    assert (await svc.stub.Revoke(pb.RevokeRequest(access_token="x.y.z"))).revoked_count == 0
    assert (await svc.stub.Revoke(pb.RevokeRequest(refresh_token="nope"))).revoked_count == 0


async def test_log_out_everywhere_and_other_devices(svc: Running) -> None:
    mine = [await create(svc, "bob") for _ in range(4)]
    other_user = await create(svc, "carol")
    keep = mine[0].session.session_id
    reply = await svc.stub.Revoke(pb.RevokeRequest(user_id="bob", except_session_id=keep))
    assert reply.revoked_count == 3
    listed = (await svc.stub.List(pb.ListRequest(user_id="bob"))).sessions
    assert [s.session_id for s in listed] == [keep]
    assert (await svc.stub.Revoke(pb.RevokeRequest(user_id="bob"))).revoked_count == 1
    assert list((await svc.stub.List(pb.ListRequest(user_id="bob"))).sessions) == []
    assert (await svc.stub.Get(pb.GetRequest(session_id=other_user.session.session_id))).session
    # Nothing is left behind in Redis for bob: no stale index entry.
    tag = keep.split(".")[0]
    # Nothing of the user is left but the rate-limit bucket, which expires by itself.
    left = await svc.redis.keys(f"{svc.prefix}:{{{tag}}}:*")
    assert [k for k in left if not k.endswith(b":rl:c")] == []
    assert all(0 < ttl <= 61_000 for ttl in [await svc.redis.pttl(k) for k in left])


async def test_list_returns_live_sessions_in_session_id_order(svc: Running) -> None:
    ids = [(await create(svc, "dave")).session.session_id for _ in range(3)]
    await svc.stub.Revoke(pb.RevokeRequest(session_id=ids[1]))
    listed = (await svc.stub.List(pb.ListRequest(user_id="dave"))).sessions
    # Session-id order is stable across pages (creation order is not: ids are random).
    assert [s.session_id for s in listed] == sorted([ids[0], ids[2]])
    assert all(s.user_id == "dave" for s in listed)


async def test_session_limit_evicts_least_recently_active(
    start_service: ServiceFactory, clock: FakeClock
) -> None:
    r = await start_service(clock=clock, max_sessions_per_user=2)
    first = await create(r, "erin")
    clock.advance(1)
    second = await create(r, "erin")
    clock.advance(1)
    await r.stub.Get(pb.GetRequest(session_id=first.session.session_id))  # first is now the most recent
    clock.advance(1)
    third = await create(r, "erin")
    listed = {s.session_id for s in (await r.stub.List(pb.ListRequest(user_id="erin"))).sessions}
    assert listed == {first.session.session_id, third.session.session_id}
    async with expect_error(UNAUTHENTICATED, "REFRESH_TOKEN_INVALID"):
        await r.stub.Refresh(pb.RefreshRequest(refresh_token=second.refresh_token))


async def test_session_limit_reject_new(start_service: ServiceFactory) -> None:
    r = await start_service(max_sessions_per_user=2, limit_policy="reject-new")
    await create(r, "fay")
    await create(r, "fay")
    async with expect_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "SESSION_LIMIT_REACHED"):
        await create(r, "fay")
    await create(r, "gus")  # other users are not affected


async def test_session_limit_ignores_expired_sessions(
    start_service: ServiceFactory, clock: FakeClock
) -> None:
    r = await start_service(clock=clock, max_sessions_per_user=1, limit_policy="reject-new", idle_timeout=10)
    await create(r, "hal")
    clock.advance(11)
    await create(r, "hal")


async def test_update_patches_data_and_compare_and_set(svc: Running) -> None:
    sid = (await create(svc, data={"a": b"1", "b": b"2"})).session.session_id
    s = (await svc.stub.Update(pb.UpdateRequest(session_id=sid, set={"c": b"3"}, remove=["a"]))).session
    assert dict(s.data) == {"b": b"2", "c": b"3"} and s.version == 2
    s = (await svc.stub.Update(pb.UpdateRequest(session_id=sid, set={"b": b"x"}, expected_version=2))).session
    assert s.version == 3
    async with expect_error(grpc.StatusCode.ABORTED, "VERSION_MISMATCH"):
        await svc.stub.Update(pb.UpdateRequest(session_id=sid, set={"b": b"y"}, expected_version=2))
    got = (await svc.stub.Get(pb.GetRequest(session_id=sid))).session
    assert dict(got.data) == {"b": b"x", "c": b"3"} and got.version == 3


async def test_update_that_would_exceed_data_limits_changes_nothing(svc: Running) -> None:
    sid = (await create(svc, data={"big": b"x" * 40000})).session.session_id
    async with expect_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "SESSION_DATA_TOO_LARGE"):
        await svc.stub.Update(pb.UpdateRequest(session_id=sid, set={"more": b"y" * 30000}))
    got = (await svc.stub.Get(pb.GetRequest(session_id=sid))).session
    assert dict(got.data) == {"big": b"x" * 40000} and got.version == 1
    # Replacing the big entry keeps the total within bounds, so it is allowed.
    await svc.stub.Update(pb.UpdateRequest(session_id=sid, set={"big": b"z", "more": b"y" * 30000}))


async def test_update_of_unknown_session_is_not_found(svc: Running) -> None:
    sid = (await create(svc)).session.session_id
    await svc.stub.Revoke(pb.RevokeRequest(session_id=sid))
    async with expect_error(NOT_FOUND, "SESSION_NOT_FOUND"):
        await svc.stub.Update(pb.UpdateRequest(session_id=sid, set={"a": b"1"}))


async def test_refresh_keeps_claims_scopes_and_data(svc: Running) -> None:
    created = await create(svc, claims={"tenant": "t1"}, scopes=["read"], data={"k": b"v"})
    refreshed = await svc.stub.Refresh(pb.RefreshRequest(refresh_token=created.refresh_token))
    claims = jwt.decode(refreshed.access_token, options={"verify_signature": False})
    assert claims["tenant"] == "t1" and claims["scope"] == "read"
    assert dict(refreshed.session.data) == {"k": b"v"}


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.CreateRequest(), "user_id"),
        (pb.CreateRequest(user_id="u" * 257), "user_id"),
        (pb.CreateRequest(user_id="a\nb"), "user_id"),
        (pb.CreateRequest(user_id="u", claims={"sub": "root"}), "claims['sub']"),
        (pb.CreateRequest(user_id="u", claims={f"c{i}": "v" for i in range(33)}), "claims"),
        (pb.CreateRequest(user_id="u", data={"k": b"x" * 70000}), "data"),
        (pb.CreateRequest(user_id="u", data={f"k{i}": b"" for i in range(65)}), "data"),
        (pb.CreateRequest(user_id="u", scopes=["has space"]), "scopes[0]"),
        (pb.CreateRequest(user_id="u", client=pb.ClientInfo(device="d" * 600)), "client.device"),
    ],
)
async def test_create_rejects_bad_input_with_field_violations(
    svc: Running, request_: pb.CreateRequest, field: str
) -> None:
    async with expect_error(INVALID, "INVALID_ARGUMENT") as caught:
        await svc.stub.Create(request_)
    assert field in error_details(caught[0]).field_violations


async def test_bad_input_on_other_rpcs(svc: Running) -> None:
    cases = [
        (svc.stub.Get, pb.GetRequest(), "session_id"),
        (svc.stub.Get, pb.GetRequest(session_id="nope"), "session_id"),
        (svc.stub.Refresh, pb.RefreshRequest(), "refresh_token"),
        (svc.stub.Revoke, pb.RevokeRequest(), "target"),
        (svc.stub.Revoke, pb.RevokeRequest(session_id="x", except_session_id="y"), "except_session_id"),
        (svc.stub.Introspect, pb.IntrospectRequest(), "token"),
        (svc.stub.Introspect, pb.IntrospectRequest(token="x" * 9000), "token"),
        (svc.stub.Update, pb.UpdateRequest(session_id="a" * 16 + "." + "b" * 22), "set"),
        (
            svc.stub.Update,
            pb.UpdateRequest(session_id="a" * 16 + "." + "b" * 22, set={"k": b""}, remove=["k"]),
            "remove['k']",
        ),
        (svc.stub.List, pb.ListRequest(), "user_id"),
    ]
    for method, request, field in cases:
        async with expect_error(INVALID, "INVALID_ARGUMENT") as caught:
            await method(request)  # type: ignore[operator]
        assert field in error_details(caught[0]).field_violations, (request, caught[0])


async def test_unparseable_request_bytes_are_invalid_argument(svc: Running) -> None:
    call: Any = svc.channel.unary_unary("/session.v1.SessionService/Create")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(b"\xff\xff\xff\xff")
    assert info.value.code() == INVALID
    assert error_details(info.value).reason == "INVALID_ARGUMENT"
