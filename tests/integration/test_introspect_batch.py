"""IntrospectBatch: one answer per token, in order, each what Introspect would say."""

from __future__ import annotations

import asyncio
import time

import grpc
from session_wire.v1 import session_pb2 as pb

from session_service.domain.manager import MAX_INTROSPECT_BATCH
from tests.conftest import Running, ServiceFactory, expect_error


async def create(r: Running, user: str = "alice") -> pb.CreateResponse:
    return await r.stub.Create(pb.CreateRequest(user_id=user, scopes=["read"], client_id="web"))


async def batch(r: Running, *tokens: str, hint: str = "") -> list[pb.IntrospectResponse]:
    reply = await r.stub.IntrospectBatch(
        pb.IntrospectBatchRequest(
            requests=[pb.IntrospectRequest(token=t, token_type_hint=hint) for t in tokens]
        )
    )
    return list(reply.responses)


async def unary(r: Running, token: str, hint: str = "") -> pb.IntrospectResponse:
    return await r.stub.Introspect(pb.IntrospectRequest(token=token, token_type_hint=hint))


async def test_batch_answers_each_token_in_order_as_introspect_does(svc: Running) -> None:
    a, b = await create(svc, "alice"), await create(svc, "bob")
    ended = await create(svc, "carol")
    await svc.stub.Revoke(pb.RevokeRequest(session_id=ended.session.session_id))
    tokens = [
        a.access_token,
        "garbage",
        b.refresh_token,
        ended.access_token,
        b.access_token,
        "a.b.c",
        ended.refresh_token,
        a.refresh_token,
        a.access_token,  # a repeat within one batch
    ]
    for hint in ("", "access_token", "refresh_token"):
        answers = await batch(svc, *tokens, hint=hint)
        assert answers == [await unary(svc, t, hint) for t in tokens]
        assert [x.active for x in answers] == [True, False, True, False, True, False, False, True, True]
    answers = await batch(svc, *tokens)
    assert (
        answers[0].sub == "alice" and answers[0].token_type == "access_token" and answers[0].scope == "read"
    )
    assert answers[2].sub == "bob" and answers[2].token_type == "refresh_token"
    assert answers[4].sid == b.session.session_id and answers[4].client_id == "web"
    assert await batch(svc) == []


async def test_revoked_session_is_inactive_in_the_next_batch(svc: Running) -> None:
    sessions = [await create(svc, f"user{i}") for i in range(20)]
    tokens = [s.access_token for s in sessions]
    assert all(x.active for x in await batch(svc, *tokens))  # verified and now remembered
    await svc.stub.Revoke(pb.RevokeRequest(session_id=sessions[3].session.session_id))
    await svc.stub.Revoke(pb.RevokeRequest(user_id="user7"))
    assert [x.active for x in await batch(svc, *tokens)] == [i not in (3, 7) for i in range(20)]


async def test_token_that_expires_while_remembered_turns_inactive(start_service: ServiceFactory) -> None:
    r = await start_service(access_token_ttl=1, jwt_leeway=0)
    created = await create(r)
    (first,) = await batch(r, created.access_token)
    assert first.active
    await asyncio.sleep(max(0.0, first.exp - time.time()) + 0.05)
    assert not (await unary(r, created.access_token)).active
    (later,) = await batch(r, created.access_token)
    assert not later.active


async def test_batch_over_the_limit_or_with_an_empty_token_is_invalid(svc: Running) -> None:
    created = await create(svc)
    assert len(await batch(svc, *[created.access_token] * MAX_INTROSPECT_BATCH)) == MAX_INTROSPECT_BATCH
    async with expect_error(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"):
        await batch(svc, *[created.access_token] * (MAX_INTROSPECT_BATCH + 1))
    async with expect_error(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"):
        await batch(svc, created.access_token, "")
