"""Single sign-on logout and shared signals on the signals door, on a single Redis and a
cluster: OIDC back-channel logout tokens and SSF Security Event Tokens made by joserfc end
the sessions created from the identity provider's session or subject, at Introspect and at
the gateway within a second; every refusal answers with the error its standard names."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from aiohttp import web
from cryptography import x509
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from session_wire.v1 import session_pb2 as pb

from session_service.audit import AUDIT_LOGGER_NAME
from tests.certs import CertificateAuthority
from tests.conftest import Running, ServiceFactory, expect_error, free_port

IDP = "https://idp.example.com/realms/main"
CLIENT_ID = "orders-web"
TRANSMITTER = "https://signals.example.com"
SSF_AUDIENCE = "https://sessions.example.com/ssf"
BEARER = "push-secret-0123456789"
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
RISC = "https://schemas.openid.net/secevent/risc/event-type/"

IDP_KEY = RSAKey.generate_key(2048, parameters={"kid": "idp-1"})
SSF_KEY = ECKey.generate_key("P-256", parameters={"kid": "ssf-1"})


def _jwks(*keys: Any) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


def logout_token(key: Any = IDP_KEY, header: dict[str, Any] | None = None, **claims: Any) -> str:
    """A logout token signed by joserfc; ``claims`` override (None removes) the defaults."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": IDP,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": str(uuid.uuid4()),
        "events": {LOGOUT_EVENT: {}},
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    alg = "RS256" if isinstance(key, RSAKey) else "ES256"
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "logout+jwt", **(header or {})}, body, key)


def security_event(events: dict[str, Any], **claims: Any) -> str:
    """A SET (RFC 8417) signed by joserfc."""
    body: dict[str, Any] = {
        "iss": TRANSMITTER,
        "aud": SSF_AUDIENCE,
        "iat": int(time.time()),
        "jti": str(uuid.uuid4()),
        "events": events,
    }
    body.update(claims)
    return jwt.encode({"alg": "ES256", "kid": SSF_KEY.kid, "typ": "secevent+jwt"}, body, SSF_KEY)


def _issuers_file(folder: Path, *, jwks_uri: str = "") -> Path:
    jwks = folder / "idp-jwks.json"
    jwks.write_text(json.dumps(_jwks(IDP_KEY)))
    source = {"jwks_uri": jwks_uri} if jwks_uri else {"jwks_file": str(jwks)}
    path = folder / "logout-issuers.yaml"
    path.write_text(json.dumps({"issuers": [{"issuer": IDP, "audience": CLIENT_ID, **source}]}))
    return path


def _transmitters_file(folder: Path) -> Path:
    (folder / "ssf-jwks.json").write_text(json.dumps(_jwks(SSF_KEY)))
    (folder / "bearer").write_text(BEARER + "\n")
    path = folder / "transmitters.json"
    entry = {
        "issuer": TRANSMITTER,
        "audience": SSF_AUDIENCE,
        "jwks_file": str(folder / "ssf-jwks.json"),
        "bearer_token_file": str(folder / "bearer"),
        "idp_issuer": IDP,
    }
    path.write_text(json.dumps({"transmitters": [entry]}))
    return path


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def _signals_service(start_service: ServiceFactory, folder: Path, **overrides: Any) -> Running:
    settings: dict[str, Any] = {"signals_port": free_port(), "forward_auth_port": free_port(), **overrides}
    if "oidc_logout_issuers_file" not in settings:
        settings["oidc_logout_issuers_file"] = str(_issuers_file(folder))
    settings["ssf_transmitters_file"] = str(_transmitters_file(folder))
    return await start_service(**settings)


@pytest.fixture
async def signals(start_service: ServiceFactory, tmp_path: Path) -> Running:
    return await _signals_service(start_service, tmp_path)


async def _login(svc: Running, user: str, sub: str, sid: str = "", issuer: str = IDP) -> pb.CreateResponse:
    created: pb.CreateResponse = await svc.stub.Create(
        pb.CreateRequest(user_id=user, idp=pb.IdpSession(issuer=issuer, subject=sub, session_id=sid))
    )
    return created


async def _logout(http: aiohttp.ClientSession, svc: Running, token: str) -> tuple[int, Any, str]:
    url = f"http://127.0.0.1:{svc.service.signals_port}/oidc/backchannel-logout"
    async with http.post(url, data={"logout_token": token}) as response:
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body, response.headers.get("Cache-Control", "")


async def _push(
    http: aiohttp.ClientSession, svc: Running, token: str, bearer: str = BEARER
) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{svc.service.signals_port}/ssf/events"
    headers = {"Content-Type": "application/secevent+jwt", "Authorization": f"Bearer {bearer}"}
    async with http.post(url, data=token, headers=headers) as response:
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body


async def _active(svc: Running, created: pb.CreateResponse) -> bool:
    introspected = await svc.stub.Introspect(pb.IntrospectRequest(token=created.access_token))
    return bool(introspected.active)


async def _gateway_status(http: aiohttp.ClientSession, svc: Running, created: pb.CreateResponse) -> int:
    url = f"http://127.0.0.1:{svc.service.forward_auth_port}/auth"
    async with http.get(url, headers={"Authorization": f"Bearer {created.access_token}"}) as response:
        return response.status


async def _ended_everywhere(http: aiohttp.ClientSession, svc: Running, created: pb.CreateResponse) -> None:
    """Inactive at Introspect at once, refused by the gateway within a second."""
    assert not await _active(svc, created)
    deadline = time.monotonic() + 1.0
    while await _gateway_status(http, svc, created) != 401:
        assert time.monotonic() < deadline, "the gateway still lets the ended session through"
        await asyncio.sleep(0.05)


async def test_session_keeps_the_identity_providers_session_facts(signals: Running) -> None:
    created = await _login(signals, "alice", "idp-alice", "idp-sid-1")
    got = await signals.stub.Get(pb.GetRequest(session_id=created.session.session_id))
    assert got.session.idp == pb.IdpSession(issuer=IDP, subject="idp-alice", session_id="idp-sid-1")
    assert created.session.idp == got.session.idp


async def test_idp_without_issuer_or_subject_and_session_is_invalid(signals: Running) -> None:
    async with expect_error(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"):
        await signals.stub.Create(pb.CreateRequest(user_id="a", idp=pb.IdpSession(subject="s")))
    async with expect_error(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"):
        await signals.stub.Create(pb.CreateRequest(user_id="a", idp=pb.IdpSession(issuer=IDP)))


async def test_logout_by_sid_ends_the_sessions_of_that_idp_session(
    signals: Running, http: aiohttp.ClientSession
) -> None:
    first = await _login(signals, "alice", "idp-alice", "sid-a")
    second = await _login(signals, "alice", "idp-alice", "sid-a")
    other = await _login(signals, "alice", "idp-alice", "sid-b")
    assert await _gateway_status(http, signals, first) == 200
    status, body, cache = await _logout(http, signals, logout_token(sid="sid-a", sub="idp-alice"))
    assert (status, body, cache) == (200, None, "no-store")
    await _ended_everywhere(http, signals, first)
    await _ended_everywhere(http, signals, second)
    assert await _active(signals, other)


async def test_logout_by_sub_ends_all_of_the_subjects_sessions(
    signals: Running, http: aiohttp.ClientSession
) -> None:
    sessions = [await _login(signals, "bob", "idp-bob", f"sid-{i}") for i in range(3)]
    someone_else = await _login(signals, "carol", "idp-carol", "sid-0")
    status, _, _ = await _logout(http, signals, logout_token(sub="idp-bob"))
    assert status == 200
    for created in sessions:
        await _ended_everywhere(http, signals, created)
    assert await _active(signals, someone_else)


async def test_logout_reaches_watchers_as_idp_logout(signals: Running, http: aiohttp.ClientSession) -> None:
    created = await _login(signals, "dave", "idp-dave", "sid-d")
    status, _, _ = await _logout(http, signals, logout_token(sid="sid-d"))
    assert status == 200
    watch = signals.stub.WatchRevocations(pb.WatchRevocationsRequest())
    try:
        async with asyncio.timeout(5):
            async for batch in watch:
                hits = [e for e in batch.revocations if created.session.session_id in e.session_ids]
                if hits:
                    assert hits[0].reason == pb.REVOCATION_REASON_IDP_LOGOUT
                    break
    finally:
        watch.cancel()


@pytest.mark.parametrize(
    ("claims", "header", "why"),
    [
        ({"aud": "someone-else"}, None, "aud"),
        ({"nonce": "n-1"}, None, "nonce"),
        ({"iss": "https://evil.example.com"}, None, "issuer"),
        ({"iat": int(time.time()) - 3600, "exp": None}, None, "iat"),
        ({"iat": int(time.time()) + 3600, "exp": None}, None, "iat"),
        ({"exp": int(time.time()) - 10}, None, "exp"),
        ({"events": None}, None, "events"),
        ({"events": {"https://example.com/other": {}}}, None, "events"),
        ({"sid": None, "sub": None}, None, "sid"),
        ({"jti": None}, None, "jti"),
        ({}, {"typ": "JWT"}, "typ"),
        ({}, {"kid": "unknown"}, "key"),
    ],
)
async def test_invalid_logout_tokens_are_refused_and_end_nothing(
    signals: Running, http: aiohttp.ClientSession, claims: dict[str, Any], header: Any, why: str
) -> None:
    created = await _login(signals, "erin", "idp-erin", "sid-e")
    token = logout_token(header=header, **{"sub": "idp-erin", **claims})
    status, body, cache = await _logout(http, signals, token)
    assert status == 400, why
    assert body["error"] == "invalid_request" and body["error_description"]
    assert cache == "no-store"
    assert await _active(signals, created)


async def test_a_replayed_logout_token_is_refused(signals: Running, http: aiohttp.ClientSession) -> None:
    token = logout_token(sid="sid-r")
    assert (await _logout(http, signals, token))[0] == 200
    created = await _login(signals, "frank", "idp-frank", "sid-r")
    status, body, _ = await _logout(http, signals, token)
    assert status == 400 and "jti" in body["error_description"]
    assert await _active(signals, created)


async def test_a_token_signed_by_another_key_is_refused(
    signals: Running, http: aiohttp.ClientSession
) -> None:
    impostor = RSAKey.generate_key(2048, parameters={"kid": "idp-1"})
    status, body, _ = await _logout(http, signals, logout_token(impostor, sid="x"))
    assert status == 400 and body["error"] == "invalid_request"


async def test_a_logout_without_a_token_is_refused(signals: Running, http: aiohttp.ClientSession) -> None:
    url = f"http://127.0.0.1:{signals.service.signals_port}/oidc/backchannel-logout"
    async with http.post(url, data={"other": "x"}) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_request"


# --- JWKS by URL: served by a local aiohttp server on loopback (plain http is allowed there only)


class JwksServer:
    """A JWKS URL that answers as the test says: normally, slowly, hugely or not at all."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.fetches = 0
        app = web.Application()
        app.router.add_get("/jwks", self._jwks)
        self._runner = web.AppRunner(app)
        self.url = ""

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/jwks"

    async def _jwks(self, request: web.Request) -> web.StreamResponse:
        self.fetches += 1
        if self.mode == "slow":
            await asyncio.sleep(10)
        if self.mode == "down":
            return web.Response(status=500)
        if self.mode == "huge":
            return web.Response(
                body=b'{"keys": [' + b" " * (1 << 20) + b"]}", content_type="application/json"
            )
        return web.json_response(_jwks(IDP_KEY))

    async def close(self) -> None:
        await self._runner.cleanup()


@pytest.fixture
async def jwks_server() -> AsyncIterator[JwksServer]:
    server = JwksServer()
    await server.start()
    yield server
    await server.close()


@pytest.mark.parametrize("redis_target", ["standalone"], indirect=True)
@pytest.mark.parametrize(("mode", "status"), [("ok", 200), ("slow", 503), ("down", 503), ("huge", 400)])
async def test_a_jwks_url_that_is_slow_huge_or_down_answers_without_hanging(
    start_service: ServiceFactory,
    tmp_path: Path,
    http: aiohttp.ClientSession,
    jwks_server: JwksServer,
    mode: str,
    status: int,
) -> None:
    jwks_server.mode = mode
    svc = await _signals_service(
        start_service,
        tmp_path,
        oidc_logout_issuers_file=str(_issuers_file(tmp_path, jwks_uri=jwks_server.url)),
    )
    started = time.monotonic()
    answered, body, _ = await _logout(http, svc, logout_token(sub="idp-gina"))
    assert answered == status
    assert time.monotonic() - started < 5
    if status == 400:
        assert body["error"] == "invalid_request"


@pytest.mark.parametrize("redis_target", ["standalone"], indirect=True)
async def test_an_unknown_kid_fetches_the_jwks_again_at_most_once_a_minute(
    start_service: ServiceFactory, tmp_path: Path, http: aiohttp.ClientSession, jwks_server: JwksServer
) -> None:
    svc = await _signals_service(
        start_service,
        tmp_path,
        oidc_logout_issuers_file=str(_issuers_file(tmp_path, jwks_uri=jwks_server.url)),
    )
    assert (await _logout(http, svc, logout_token(sub="h")))[0] == 200
    assert jwks_server.fetches == 1
    rotated = RSAKey.generate_key(2048, parameters={"kid": "idp-2"})
    for _ in range(3):
        assert (await _logout(http, svc, logout_token(rotated, sub="h")))[0] == 400
    assert jwks_server.fetches == 2


@pytest.mark.parametrize("redis_target", ["standalone"], indirect=True)
async def test_an_unreachable_store_answers_503_so_the_provider_retries(
    start_service: ServiceFactory, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    svc = await _signals_service(
        start_service,
        tmp_path,
        redis_url=f"redis://127.0.0.1:{free_port()}",
        redis_retry_timeout=0.2,
        redis_timeout=0.3,
    )
    status, body, cache = await _logout(http, svc, logout_token(sid="sid-z"))
    assert (status, cache) == (503, "no-store")
    assert body["error"] == "temporarily_unavailable"


# --- SSF receiver (RFC 8935 push)


async def test_caep_session_revoked_by_session_id_ends_that_idp_sessions_sessions(
    signals: Running, http: aiohttp.ClientSession
) -> None:
    mine = await _login(signals, "hank", "idp-hank", "sid-h1")
    other = await _login(signals, "hank", "idp-hank", "sid-h2")
    event = {CAEP + "session-revoked": {"event_timestamp": int(time.time())}}
    status, body = await _push(
        http, signals, security_event(event, sub_id={"format": "opaque", "id": "sid-h1"})
    )
    assert (status, body) == (202, None)
    await _ended_everywhere(http, signals, mine)
    assert await _active(signals, other)


async def test_caep_session_revoked_with_a_complex_subject(
    signals: Running, http: aiohttp.ClientSession
) -> None:
    mine = await _login(signals, "ivy", "idp-ivy", "sid-i1")
    subject = {
        "format": "complex",
        "session": {"format": "opaque", "id": "sid-i1"},
        "user": {"format": "iss_sub", "iss": IDP, "sub": "idp-ivy"},
    }
    status, _ = await _push(http, signals, security_event({CAEP + "session-revoked": {}}, sub_id=subject))
    assert status == 202
    await _ended_everywhere(http, signals, mine)


@pytest.mark.parametrize(
    "event", [CAEP + "credential-change", RISC + "account-disabled", RISC + "account-purged"]
)
async def test_subject_events_end_all_of_the_subjects_sessions(
    signals: Running, http: aiohttp.ClientSession, event: str
) -> None:
    sessions = [await _login(signals, "jack", "idp-jack", f"sid-j{i}") for i in range(2)]
    someone_else = await _login(signals, "kim", "idp-kim", "sid-k")
    subject = {"format": "iss_sub", "iss": IDP, "sub": "idp-jack"}
    status, _ = await _push(http, signals, security_event({event: {}}, sub_id=subject))
    assert status == 202
    for created in sessions:
        await _ended_everywhere(http, signals, created)
    assert await _active(signals, someone_else)


async def test_a_repeated_set_is_accepted_and_changes_nothing(
    signals: Running, http: aiohttp.ClientSession
) -> None:
    subject = {"format": "iss_sub", "iss": IDP, "sub": "idp-lee"}
    token = security_event({CAEP + "credential-change": {}}, sub_id=subject)
    assert (await _push(http, signals, token))[0] == 202
    created = await _login(signals, "lee", "idp-lee", "sid-l")
    assert (await _push(http, signals, token))[0] == 202
    assert await _active(signals, created)


@pytest.mark.parametrize(
    ("change", "err"),
    [
        ({"bearer": "wrong"}, "authentication_failed"),
        ({"bearer": ""}, "authentication_failed"),
        ({"iss": "https://evil.example.com"}, "invalid_issuer"),
        ({"aud": "https://someone-else.example.com"}, "invalid_audience"),
        ({"aud": None}, "invalid_audience"),
        ({"key": ECKey.generate_key("P-256", parameters={"kid": "ssf-1"})}, "invalid_key"),
        ({"body": "not a jwt"}, "invalid_request"),
        ({"subject": {"format": "email", "email": "a@example.com"}}, "invalid_request"),
        (
            {"subject": {"format": "iss_sub", "iss": "https://other-idp.example.com", "sub": "x"}},
            "invalid_request",
        ),
    ],
)
async def test_invalid_security_events_are_refused_with_rfc_8935_codes(
    signals: Running, http: aiohttp.ClientSession, change: dict[str, Any], err: str
) -> None:
    created = await _login(signals, "max", "idp-max", "sid-m")
    subject = change.get("subject", {"format": "iss_sub", "iss": IDP, "sub": "idp-max"})
    claims: dict[str, Any] = {k: change[k] for k in ("iss", "aud") if k in change}
    body: dict[str, Any] = {"iss": TRANSMITTER, "aud": SSF_AUDIENCE, "iat": int(time.time())}
    body["jti"] = str(uuid.uuid4())
    body |= {"events": {CAEP + "credential-change": {}}, "sub_id": subject, **claims}
    body = {k: v for k, v in body.items() if v is not None}
    key = change.get("key", SSF_KEY)
    token = change.get("body") or jwt.encode(
        {"alg": "ES256", "kid": "ssf-1", "typ": "secevent+jwt"}, body, key
    )
    status, answer = await _push(http, signals, token, bearer=change.get("bearer", BEARER))
    assert status == 400
    assert answer["err"] == err and answer["description"]
    assert await _active(signals, created)


@pytest.mark.parametrize("redis_target", ["standalone"], indirect=True)
async def test_the_signals_door_serves_tls_with_the_grpc_certificate_and_wants_no_client_certificate(
    start_service: ServiceFactory, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    ca = CertificateAuthority()
    server = ca.issue_server()
    cert_file, key_file = server.write(tmp_path, "server")
    client_ca = CertificateAuthority().write(tmp_path, "clients.crt")
    svc = await _signals_service(
        start_service,
        tmp_path,
        tls_cert_file=str(cert_file),
        tls_key_file=str(key_file),
        tls_client_ca_file=str(client_ca),
        dev=True,
    )
    trust = ssl.create_default_context(cadata=ca.cert_pem.decode())
    url = f"https://127.0.0.1:{svc.service.signals_port}/oidc/backchannel-logout"
    async with http.post(url, data={"logout_token": logout_token(sid="sid-tls")}, ssl=trust) as response:
        assert response.status == 200
    _, writer = await asyncio.open_connection("127.0.0.1", svc.service.signals_port, ssl=trust)
    peer = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    assert x509.load_der_x509_certificate(peer).serial_number == server.serial_number
    with pytest.raises(aiohttp.ClientError):
        async with http.post(url.replace("https", "http"), data={}) as response:
            pass


async def test_an_upstream_logout_is_an_audit_event_naming_the_provider(
    signals: Running, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    created = await _login(signals, "nina", "idp-nina", "sid-n")
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER_NAME)
    token = logout_token(sid="sid-n")
    assert (await _logout(http, signals, token))[0] == 200
    (line,) = [r for r in caplog.records if r.getMessage().startswith('{"event":"upstream_sessions_ended"')]
    fields = json.loads(line.getMessage())
    assert token not in caplog.text
    assert fields["caller"] == IDP
    assert fields["reason"] == "idp_logout"
    assert fields["signal"] == LOGOUT_EVENT
    assert fields["session_ids"] == [created.session.session_id]
