"""The SSF transmitter against a real receiver (an aiohttp server on loopback) and real
Redis: every revocation arrives as a CAEP session-revoked SET that joserfc verifies with
the service's published keys, through a receiver outage and a restart of the service, and
two replicas deliver each event once."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from aiohttp import web
from joserfc import jwt
from joserfc.jwk import KeySet
from session_wire.v1 import session_pb2 as pb

from session_service.domain.ids import user_tag
from session_service.store.keys import KeySchema
from tests.certs import CertificateAuthority
from tests.conftest import Running, ServiceFactory, free_port

pytestmark = pytest.mark.filterwarnings(
    # RFC 9864 deprecates the polymorphic "EdDSA" name in favour of "Ed25519"; joserfc warns.
    "ignore::joserfc.errors.SecurityWarning"
)

SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
ISSUER = "https://sessions.example.test"
AUDIENCE = "https://receiver.example.test"
BEARER = "receiver-bearer-token-1"


@dataclass
class Push:
    """One push the receiver got."""

    headers: dict[str, str]
    token: str


@dataclass
class Receiver:
    """An RFC 8935 push endpoint on loopback that records what it gets; ``answer`` decides
    the reply to each SET (202 unless told otherwise)."""

    port: int = field(default_factory=free_port)
    pushes: list[Push] = field(default_factory=list)
    answer: Callable[[str], web.Response] = lambda _token: web.Response(status=202)
    delay: float = 0.0
    """Seconds each push takes to answer."""
    tls: ssl.SSLContext | None = None
    """Serves HTTPS with it when given."""
    _runner: web.AppRunner | None = None

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/events"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/events", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self.tls).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        token = (await request.read()).decode()
        await asyncio.sleep(self.delay)
        self.pushes.append(Push(dict(request.headers), token))
        return self.answer(token)

    def claims(self) -> list[dict[str, Any]]:
        """The claims of every push so far, unverified (for counting)."""
        return [json.loads(_payload(p.token)) for p in self.pushes]

    def sessions(self) -> set[str]:
        """The session ids of every event received."""
        return {c["sub_id"]["session"]["id"] for c in self.claims()}


def _payload(token: str) -> bytes:
    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


def receivers_file(tmp_path: Path, receiver: Receiver, name: str = "billing", ca_file: str = "") -> str:
    token_file = tmp_path / "bearer"
    token_file.write_text(BEARER + "\n")
    path = tmp_path / "receivers.yaml"
    path.write_text(
        f"receivers:\n"
        f"  - name: {name}\n"
        f"    endpoint: {receiver.endpoint}\n"
        f"    audience: {AUDIENCE}\n"
        f"    token_file: {token_file}\n"
        f"    events: [{SESSION_REVOKED}]\n" + (f"    ca_file: {ca_file}\n" if ca_file else "")
    )
    return str(path)


def transmitter_settings(tmp_path: Path, receiver: Receiver, **overrides: Any) -> dict[str, Any]:
    return {
        "issuer": ISSUER,
        "signals_port": free_port(),
        "ssf_receivers_file": overrides.pop("ssf_receivers_file", "") or receivers_file(tmp_path, receiver),
        "ssf_max_backoff": 0.3,
        "ssf_lease_ttl": 1.0,
        "ssf_push_timeout": 2.0,
        **overrides,
    }


async def until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds}s: {what}")
        await asyncio.sleep(0.05)


async def revoke_new_session(r: Running, user: str, **revoke: Any) -> str:
    created = await r.stub.Create(pb.CreateRequest(user_id=user))
    sid = created.session.session_id
    await r.stub.Revoke(pb.RevokeRequest(session_id=sid, **revoke))
    return sid


async def position_settled(r: Running, receiver: str = "billing") -> None:
    """Waits until the receiver's position is the stream's last event (it moves once the
    pushes of a batch are answered, a moment after the receiver has them)."""
    keys = KeySchema(r.prefix)
    deadline = time.monotonic() + 5
    while True:
        last = await r.redis.xrevrange(keys.revocations(), count=1)
        if last and await r.redis.get(keys.ssf_position(receiver)) == last[0][0]:
            return
        assert time.monotonic() < deadline, "the position did not reach the last event"
        await asyncio.sleep(0.05)


async def door_json(r: Running, path: str) -> Any:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{r.service.signals_port}{path}") as response:
            assert response.status == 200
            return await response.json(content_type=None)


async def test_every_way_a_session_ends_reaches_the_receiver_as_a_verified_caep_event(
    start_service: ServiceFactory, receiver: Receiver, tmp_path: Path
) -> None:
    r = await start_service(**transmitter_settings(tmp_path, receiver, refresh_grace=0))
    before = int(time.time())
    logout = await revoke_new_session(r, "ann")
    admin = await revoke_new_session(r, "ann", reason=pb.REVOCATION_REASON_ADMINISTRATIVE)
    stolen = await r.stub.Create(pb.CreateRequest(user_id="bob"))
    rotated = await r.stub.Refresh(pb.RefreshRequest(refresh_token=stolen.refresh_token))
    assert rotated.refresh_token
    with pytest.raises(grpc.aio.AioRpcError):  # reuse: the session ends as stolen
        await r.stub.Refresh(pb.RefreshRequest(refresh_token=stolen.refresh_token))
    everywhere = await r.stub.Create(pb.CreateRequest(user_id="cid"))
    await r.stub.Revoke(pb.RevokeRequest(user_id="cid"))
    expected = {
        logout: ("ann", "user", "LOGOUT"),
        admin: ("ann", "admin", "ADMINISTRATIVE"),
        stolen.session.session_id: ("bob", "policy", "REFRESH_TOKEN_REUSE"),
        everywhere.session.session_id: ("cid", "user", "LOGOUT_EVERYWHERE"),
    }
    await until(lambda: receiver.sessions() >= set(expected), 10, "every event delivered")
    after = int(time.time())

    # The keys: the door's JWK Set is GetJwks's, and the metadata points at it.
    jwks = await door_json(r, "/jwks.json")
    assert jwks == json.loads((await r.stub.GetJwks(pb.GetJwksRequest())).jwks_json)
    metadata = await door_json(r, "/.well-known/ssf-configuration")
    assert metadata["issuer"] == ISSUER
    assert metadata["jwks_uri"] == f"http://127.0.0.1:{r.service.signals_port}/jwks.json"
    assert metadata["delivery_methods_supported"] == ["urn:ietf:rfc:8935"]
    keys = KeySet.import_key_set(jwks)

    for push in receiver.pushes:
        assert push.headers["Content-Type"] == "application/secevent+jwt"
        assert push.headers["Accept"] == "application/json"
        assert push.headers["Authorization"] == f"Bearer {BEARER}"
        verified = jwt.decode(push.token, keys, algorithms=["EdDSA", "ES256", "RS256"])
        assert verified.header["typ"] == "secevent+jwt"
        assert verified.header["kid"] in {k["kid"] for k in jwks["keys"]}
        claims = dict(verified.claims)
        sid = claims["sub_id"]["session"]["id"]
        user, entity, reason = expected[sid]
        event = claims["events"][SESSION_REVOKED]
        assert before <= event["event_timestamp"] <= after
        assert before <= claims["iat"] <= after
        assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
        assert claims == {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "jti": claims["jti"],
            "iat": claims["iat"],
            "sub_id": {
                "format": "complex",
                "session": {"format": "opaque", "id": sid},
                "user": {"format": "opaque", "id": user},
            },
            "events": {
                SESSION_REVOKED: {
                    "event_timestamp": event["event_timestamp"],
                    "initiating_entity": entity,
                    "reason_admin": {"en": reason},
                }
            },
        }
    assert len({c["jti"] for c in receiver.claims()}) == len(receiver.pushes)


async def verified_subjects(r: Running, receiver: Receiver) -> dict[str, dict[str, Any]]:
    """The ``sub_id`` of every push by its session id, each SET verified by joserfc with the
    keys the signals door publishes."""
    keys = KeySet.import_key_set(await door_json(r, "/jwks.json"))
    subjects: dict[str, dict[str, Any]] = {}
    for push in receiver.pushes:
        claims = jwt.decode(push.token, keys, algorithms=["EdDSA", "ES256", "RS256"]).claims
        subjects[claims["sub_id"]["session"]["id"]] = claims["sub_id"]
    return subjects


def subject(sid: str, user: str = "") -> dict[str, Any]:
    """The complex subject of a session-revoked SET: the session, and its user when known."""
    named: dict[str, Any] = {"format": "complex", "session": {"format": "opaque", "id": sid}}
    if user:
        named["user"] = {"format": "opaque", "id": user}
    return named


async def test_the_event_of_every_way_a_session_ends_names_its_user(
    start_service: ServiceFactory, receiver: Receiver, tmp_path: Path
) -> None:
    r = await start_service(**transmitter_settings(tmp_path, receiver, max_sessions_per_user=1))
    # User ids as validation allows them: spaces (what separates an outbox entry's parts),
    # '%' and what looks like its escapes, a '=' token, non-ASCII letters.
    by_id, by_user, evicting, moving = "ann lee", "100% %20 real ", "zoë  o'neil", "u=42 %25"
    revoked = await revoke_new_session(r, by_id)
    everywhere = await r.stub.Create(pb.CreateRequest(user_id=by_user))
    await r.stub.Revoke(pb.RevokeRequest(user_id=by_user))
    evicted = await r.stub.Create(pb.CreateRequest(user_id=evicting))
    await r.stub.Create(pb.CreateRequest(user_id=evicting))  # over the limit of one
    moved = await r.stub.Create(pb.CreateRequest(user_id=moving))
    await r.stub.Reauthenticate(pb.ReauthenticateRequest(session_id=moved.session.session_id))
    expected = {
        revoked: (by_id, "LOGOUT"),
        everywhere.session.session_id: (by_user, "LOGOUT_EVERYWHERE"),
        evicted.session.session_id: (evicting, "SESSION_LIMIT_EVICTION"),
        moved.session.session_id: (moving, "SESSION_ROTATED"),
    }
    await until(lambda: receiver.sessions() >= set(expected), 10, "every event delivered")

    assert await verified_subjects(r, receiver) == {
        sid: subject(sid, user) for sid, (user, _) in expected.items()
    }
    reasons = {
        c["sub_id"]["session"]["id"]: c["events"][SESSION_REVOKED]["reason_admin"]["en"]
        for c in receiver.claims()
    }
    assert reasons == {sid: reason for sid, (_, reason) in expected.items()}


async def test_an_eviction_that_ends_sessions_of_two_users_names_neither(
    start_service: ServiceFactory, receiver: Receiver, tmp_path: Path
) -> None:
    r = await start_service(**transmitter_settings(tmp_path, receiver, max_sessions_per_user=1))
    first = await r.stub.Create(pb.CreateRequest(user_id="kim"))
    # A session of another user whose id had the same tag (a hash collision), in kim's index.
    keys, tag = KeySchema(r.prefix), user_tag("kim")
    nonce = secrets.token_urlsafe(16)
    idle_exp = int(time.time() * 1000) + 600_000
    await r.redis.hset(keys.session_prefix(tag) + nonce, mapping={"user": "lou", "idle_exp": idle_exp})
    await r.redis.zadd(keys.index(tag), {nonce: idle_exp})
    await r.stub.Create(pb.CreateRequest(user_id="kim"))  # ends both: one event, two users
    ended = {first.session.session_id, f"{tag}.{nonce}"}
    await until(lambda: receiver.sessions() >= ended, 10, "both events delivered")

    assert await verified_subjects(r, receiver) == {sid: subject(sid) for sid in ended}


async def test_events_written_without_a_user_name_the_session_only(
    start_service: ServiceFactory, receiver: Receiver, tmp_path: Path
) -> None:
    r = await start_service(**transmitter_settings(tmp_path, receiver))
    keys, tag = KeySchema(r.prefix), user_tag("mo")
    at = int(time.time() * 1000)
    exp = at + 600_000
    # A stream entry as the relay wrote it before events named users.
    in_stream = f"{tag}.{secrets.token_urlsafe(16)}"
    await r.redis.xadd(keys.revocations(), {"at": at, "exp": exp, "reason": "logout", "sids": in_stream})
    # An outbox entry as a script wrote it then, relayed now.
    nonce = secrets.token_urlsafe(16)
    await r.redis.hset(keys.outbox(tag), "an-old-event", f"{at} {exp} logout {tag} {nonce}")
    assert await r.service.store.relay.drain(tag) == {"an-old-event"}
    ended = {in_stream, f"{tag}.{nonce}"}
    await until(lambda: receiver.sessions() >= ended, 10, "both events delivered")

    assert await verified_subjects(r, receiver) == {sid: subject(sid) for sid in ended}


async def test_a_refused_event_is_not_sent_again_and_the_next_ones_arrive(
    start_service: ServiceFactory, receiver: Receiver, tmp_path: Path
) -> None:
    refused: list[str] = []

    def answer(token: str) -> web.Response:
        if not refused:
            refused.append(token)
            return web.json_response({"err": "invalid_audience", "description": "not ours"}, status=400)
        return web.Response(status=202)

    receiver.answer = answer
    r = await start_service(**transmitter_settings(tmp_path, receiver))
    first = await revoke_new_session(r, "dan")
    second = await revoke_new_session(r, "dan")
    await until(lambda: receiver.sessions() == {first, second}, 10, "both events pushed")
    await asyncio.sleep(1.0)  # well past the longest backoff: nothing is sent again
    assert [c["sub_id"]["session"]["id"] for c in receiver.claims()].count(first) == 1
    assert r.service.telemetry is not None
    rejected = r.service.telemetry.metrics.ssf_events_rejected.labels("billing", "invalid_audience")
    assert rejected._value.get() == 1  # prometheus_client's sample value


async def test_a_receiver_down_then_back_gets_every_event_with_the_service_restarted_between(
    start_service: ServiceFactory, receiver: Receiver, tmp_path: Path
) -> None:
    settings = transmitter_settings(tmp_path, receiver)
    await receiver.stop()  # down: connections refused
    first = await start_service(**settings)
    settings["redis_prefix"] = first.prefix
    during = [await revoke_new_session(first, "eve") for _ in range(5)]
    assert first.service.telemetry is not None
    failures = first.service.telemetry.metrics.ssf_push_failures.labels("billing")
    await until(lambda: failures._value.get() >= 2, 10, "pushes tried and failed")
    await first.service.stop(grace=0)

    second = await start_service(**{**settings, "signals_port": free_port()})
    after_restart = [await revoke_new_session(second, "eve") for _ in range(3)]
    await asyncio.sleep(0.5)
    await receiver.start()  # back
    expected = set(during) | set(after_restart)
    await until(lambda: receiver.sessions() >= expected, 15, "every event after the outage")
    assert receiver.sessions() == expected

    # The position is durable: a third start resumes after it and sends nothing again.
    await position_settled(second)
    pushed = len(receiver.pushes)
    await second.service.stop(grace=0)
    await start_service(**{**settings, "signals_port": free_port()})
    await asyncio.sleep(1.5)
    assert len(receiver.pushes) == pushed


async def test_two_replicas_deliver_each_event_once(
    start_service: ServiceFactory, receiver: Receiver, tmp_path: Path
) -> None:
    settings = transmitter_settings(tmp_path, receiver)
    one = await start_service(**settings)
    settings["redis_prefix"] = one.prefix
    two = await start_service(**{**settings, "signals_port": free_port()})
    sids = [await revoke_new_session(r, f"fay{n}") for n, r in enumerate([one, two] * 10)]
    await until(lambda: receiver.sessions() >= set(sids), 10, "every event delivered")
    await asyncio.sleep(1.0)
    assert sorted(c["sub_id"]["session"]["id"] for c in receiver.claims()) == sorted(sids)
    assert one.service.transmitter is not None and two.service.transmitter is not None
    holders = [one.service.transmitter.delivering("billing"), two.service.transmitter.delivering("billing")]
    assert holders.count(True) == 1

    # The holder stops: the other takes over and delivers what comes next.
    holder, other = (one, two) if holders[0] else (two, one)
    await holder.service.stop(grace=0)
    later = await revoke_new_session(other, "gus")
    await until(lambda: later in receiver.sessions(), 10, "delivered by the other replica")


async def test_a_lease_a_dead_replica_left_is_taken_over_once_it_expires(
    start_service: ServiceFactory, receiver: Receiver, tmp_path: Path
) -> None:
    settings = transmitter_settings(tmp_path, receiver, redis_prefix=f"ssfdead{free_port()}")
    dead = await start_service(**{**settings, "ssf_receivers_file": "", "signals_port": 0})  # for Redis
    lease = KeySchema(dead.prefix).ssf_lease("billing")
    await dead.redis.set(lease, "token-of-a-replica-that-died", px=1500)
    r = await start_service(**settings)
    sid = await revoke_new_session(r, "hal")
    await asyncio.sleep(0.8)
    assert receiver.pushes == [], "delivered while another replica's lease was live"
    await until(lambda: receiver.sessions() == {sid}, 5, "delivered after the lease expired")


async def test_an_https_receiver_is_reached_only_with_a_certificate_its_ca_file_vouches_for(
    start_service: ServiceFactory, tmp_path: Path
) -> None:
    ours, foreign = CertificateAuthority(), CertificateAuthority("another CA")
    cert, key = ours.issue_server(["127.0.0.1"]).write(tmp_path, "receiver")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    receiver = Receiver(tls=tls)
    await receiver.start()
    try:
        trusted = receivers_file(tmp_path, receiver, ca_file=str(ours.write(tmp_path, "ours.crt")))
        r = await start_service(**transmitter_settings(tmp_path, receiver, ssf_receivers_file=trusted))
        sid = await revoke_new_session(r, "ida")
        await until(lambda: receiver.sessions() == {sid}, 10, "delivered over TLS")
        await r.service.stop(grace=0)

        (tmp_path / "other").mkdir()
        untrusted = receivers_file(
            tmp_path / "other", receiver, ca_file=str(foreign.write(tmp_path, "foreign.crt"))
        )
        settings = transmitter_settings(tmp_path, receiver, ssf_receivers_file=untrusted)
        other = await start_service(**{**settings, "redis_prefix": r.prefix})
        refused = await revoke_new_session(other, "ida")
        assert other.service.telemetry is not None
        failures = other.service.telemetry.metrics.ssf_push_failures.labels("billing")
        await until(lambda: failures._value.get() >= 2, 10, "pushes refused by certificate verification")
        assert refused not in receiver.sessions()
    finally:
        await receiver.stop()


async def test_events_that_expired_before_the_receiver_took_them_are_reported(
    start_service: ServiceFactory, receiver: Receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = transmitter_settings(tmp_path, receiver)
    first = await start_service(**settings)
    settings["redis_prefix"] = first.prefix
    delivered = await revoke_new_session(first, "jo")
    await until(lambda: receiver.sessions() == {delivered}, 5, "the first event delivered")
    await position_settled(first)
    await first.service.stop(grace=0)
    without_transmitter = await start_service(**{**settings, "ssf_receivers_file": "", "signals_port": 0})
    expired = await revoke_new_session(without_transmitter, "jo")
    kept = await revoke_new_session(without_transmitter, "jo")
    # Time passes beyond the stream's retention: what the trimming would do, done at once.
    stream = KeySchema(first.prefix).revocations()
    last_id = (await without_transmitter.redis.xrevrange(stream, count=1))[0][0]
    await without_transmitter.redis.xtrim(stream, minid=last_id, approximate=False)
    await start_service(**{**settings, "signals_port": free_port()})
    await until(lambda: kept in receiver.sessions(), 5, "the event still retained delivered")
    assert expired not in receiver.sessions()
    assert any("expired from the stream" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
