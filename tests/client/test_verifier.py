"""The local Verifier against real services: local checks, revocations pushed within a
second to every connected verifier, resumption, key rotation, and the attacks it refuses."""

from __future__ import annotations

import asyncio
import base64
import json
import statistics
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from session_client import (
    DisallowedAlgorithm,
    InvalidAudience,
    InvalidIssuer,
    InvalidSignature,
    InvalidTokenType,
    MalformedToken,
    MissingClaim,
    RevocationsStale,
    SessionClient,
    SessionClientError,
    SessionRevoked,
    TokenError,
    TokenExpired,
    TokenNotYetValid,
    UnknownSigningKey,
    Verifier,
)

from session_service.tokens.access import JwtCodec
from session_service.tokens.keyring import Key, Keyring
from tests.client.conftest import ClientFactory, VerifierFactory
from tests.conftest import Running, ServiceFactory
from tests.token_spellings import respellable, respellings

VERIFIERS = 5
REVOCATIONS = 50


async def restart(start_service: ServiceFactory, r: Running, **overrides: Any) -> Running:
    """Stops a service and starts a new one on the same port and Redis prefix (a redeploy)."""
    port, prefix = r.service.port, r.prefix
    await r.service.stop(grace=0)
    return await start_service(port=port, redis_prefix=prefix, **overrides)


def sign(keyring: Keyring, claims: dict[str, Any], **header: Any) -> str:
    """A token signed with the test keyring's key, with our headers unless overridden."""
    key = keyring.signer
    assert key.private is not None
    headers = {"kid": key.kid, "typ": "at+jwt", **header}
    return jwt.encode(claims, key.private, algorithm=key.algorithm, headers=headers)


def claims_for(
    sid: str | None = "AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB", **override: Any
) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "session-service",
        "aud": "internal",
        "sub": "mallory",
        "sid": sid,
        "jti": "j",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
    }
    claims.update(override)
    return {k: v for k, v in claims.items() if v is not None}


async def test_verifies_a_token_locally_and_returns_its_claims(
    svc: Running, connect: ClientFactory, start_verifier: VerifierFactory
) -> None:
    client = await connect(svc)
    created = await client.create(
        "alice", scopes=["read", "write"], client_id="web", claims={"tenant": "acme"}
    )
    verifier = await start_verifier(svc)
    token = verifier.verify(created.access_token)
    assert token.subject == "alice" and token.session_id == created.session.session_id
    assert token.scopes == ("read", "write") and token.client_id == "web"
    assert token.claims["tenant"] == "acme"
    assert token.expires_at == created.access_token_expires_at.seconds
    assert verifier.status.synced and verifier.status.keys == 1


async def test_verification_makes_no_network_call(
    start_service: ServiceFactory, connect: ClientFactory, start_verifier: VerifierFactory, capsys: Any
) -> None:
    r = await start_service()
    created = await (await connect(r)).create("bob")
    verifier = await start_verifier(r)
    # With the service gone, verification goes on: it never needed the network.
    await r.service.stop(grace=0)
    started = time.perf_counter()
    for _ in range(2000):
        verifier.verify(created.access_token)
    per_call = (time.perf_counter() - started) / 2000
    with capsys.disabled():
        print(f"\n  local verification: {per_call * 1e6:.0f} µs per token (EdDSA), no network call")


async def test_revocation_reaches_every_connected_verifier_within_a_second(
    svc: Running, connect: ClientFactory, start_verifier: VerifierFactory, capsys: Any
) -> None:
    admin = await connect(svc)
    verifiers = [await start_verifier(svc) for _ in range(VERIFIERS)]
    latencies = []
    for i in range(REVOCATIONS):
        # One user per revocation: the per-user Create rate limit is not what is measured here.
        created = await admin.create(f"carol{i}")
        for v in verifiers:
            v.verify(created.access_token)
        sid = created.session.session_id
        started = time.perf_counter()
        await admin.revoke_session(sid)
        while not all(v.is_revoked(sid) for v in verifiers):
            assert time.perf_counter() - started < 5, "a verifier never heard of the revocation"
            await asyncio.sleep(0.0005)
        latencies.append(time.perf_counter() - started)
        for v in verifiers:
            with pytest.raises(SessionRevoked):
                v.verify(created.access_token)
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1] if len(latencies) >= 100 else latencies[-1]
    with capsys.disabled():
        print(
            f"\n  revocation → rejected by all {VERIFIERS} verifiers ({REVOCATIONS} revocations, "
            f"from the Revoke call): p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
            f"max {latencies[-1] * 1000:.1f} ms"
        )
    assert p99 < 1.0


async def test_revocations_from_before_the_verifier_started_are_known(
    svc: Running, connect: ClientFactory, start_verifier: VerifierFactory
) -> None:
    client = await connect(svc)
    created = await client.create("dave")
    await client.revoke_user("dave")
    verifier = await start_verifier(svc)
    with pytest.raises(SessionRevoked):
        verifier.verify(created.access_token)


async def test_verifier_resumes_after_a_redeploy_without_missing_revocations(
    start_service: ServiceFactory, connect: ClientFactory, start_verifier: VerifierFactory
) -> None:
    first = await start_service()
    replica = await start_service(redis_prefix=first.prefix)  # another replica, same Redis
    client = await connect(replica)
    created = await client.create("erin")
    verifier = await start_verifier(first)
    verifier.verify(created.access_token)
    port, prefix = first.service.port, first.prefix
    await first.service.stop(grace=0)
    # Revoked while the verifier's server is away: it must learn it on reconnecting.
    await client.revoke_session(created.session.session_id)
    await start_service(port=port, redis_prefix=prefix)
    deadline = time.monotonic() + 10
    while not verifier.is_revoked(created.session.session_id):
        assert time.monotonic() < deadline, "the verifier did not catch up after reconnecting"
        await asyncio.sleep(0.02)
    assert verifier.status.revocations_possibly_missed_before is None
    with pytest.raises(SessionRevoked):
        verifier.verify(created.access_token)


async def test_lost_revocation_stream_is_reported_and_fail_closed_rejects_older_tokens(
    start_service: ServiceFactory, connect: ClientFactory, start_verifier: VerifierFactory
) -> None:
    r = await start_service()
    client = await connect(r)
    session = await client.create("fay")
    await client.revoke_session((await client.create("fay")).session.session_id)
    verifier = await start_verifier(r, fail_closed=True)
    verifier.verify(session.access_token)
    # Redis loses the stream (a restart without persistence) while the verifier is away.
    await r.redis.delete(f"{r.prefix}:{{revocations}}")
    r = await restart(start_service, r)
    deadline = time.monotonic() + 10
    while verifier.status.revocations_possibly_missed_before is None:
        assert time.monotonic() < deadline, "the verifier never reconnected"
        await asyncio.sleep(0.02)
    with pytest.raises(RevocationsStale):
        verifier.verify(session.access_token)  # issued before: its revocation may be lost
    await asyncio.sleep(1.1)  # NumericDate has whole seconds
    fresh = await (await connect(r)).create("fay")
    assert verifier.verify(fresh.access_token).subject == "fay"


async def test_silent_revocation_stream_never_fails_open(
    start_service: ServiceFactory, connect: ClientFactory, start_verifier: VerifierFactory
) -> None:
    r = await start_service()
    created = await (await connect(r)).create("gus")
    introspecting = await start_verifier(r, max_silence=0.3, max_staleness=0.3)
    rejecting = await start_verifier(r, max_silence=0.3, max_staleness=0.3, stale_policy="reject")
    legacy = await start_verifier(r, max_silence=0.3, max_staleness=0.3, fail_closed=True)
    await r.service.stop(grace=0)
    await asyncio.sleep(0.5)
    for verifier in (introspecting, rejecting, legacy):
        assert not verifier.status.synced and verifier.staleness > 0.3
        with pytest.raises(RevocationsStale):
            verifier.verify(created.access_token)  # no I/O possible: refuses
        with pytest.raises(RevocationsStale):
            # Introspect cannot answer either (the service is gone): refused, not accepted.
            await verifier.verify_async(created.access_token)


async def test_stale_verifier_asks_introspect_or_rejects_within_the_bound(
    svc: Running, connect: ClientFactory, start_verifier: VerifierFactory, caplog: Any, capsys: Any
) -> None:
    client = await connect(svc)
    live, doomed = await client.create("hank"), await client.create("hank")
    introspecting = await start_verifier(svc, max_staleness=0.5)
    rejecting = await start_verifier(svc, max_staleness=0.5, stale_policy="reject")
    for verifier in (introspecting, rejecting):
        assert (await verifier.verify_async(doomed.access_token)).subject == "hank"
    # The feed is cut (the service stops serving WatchRevocations) while Introspect works,
    # and a revocation happens that the verifiers cannot hear of.
    feed = svc.service.revocations
    assert feed is not None
    await feed.close()
    cut = time.monotonic()
    await client.revoke_session(doomed.session.session_id)
    while True:
        try:
            await introspecting.verify_async(doomed.access_token)
        except SessionRevoked as e:
            assert e.reason == ""  # learnt from Introspect, which does not say why
            break
        assert time.monotonic() - cut < 0.5 + 0.5, "the revoked token was accepted past the bound"
        await asyncio.sleep(0.01)
    rejected_after = time.monotonic() - cut
    assert introspecting.stale and introspecting.staleness > 0.5
    assert (await introspecting.verify_async(live.access_token)).subject == "hank"  # asked, still active
    with pytest.raises(RevocationsStale):
        introspecting.verify(live.access_token)
    # Each verifier's view ages from the last message it heard, which may differ by a few
    # milliseconds around the cut: the rejecting one too goes stale within the bound.
    while not rejecting.stale:
        assert time.monotonic() - cut < 0.5 + 0.5, "the rejecting verifier stayed fresh past the bound"
        await asyncio.sleep(0.01)
    with pytest.raises(RevocationsStale):
        await rejecting.verify_async(live.access_token)
    await asyncio.sleep(0.3)
    assert "revocation view stale" in caplog.text
    with capsys.disabled():
        print(
            "\n  feed cut → revoked token refused by a stale verifier after "
            f"{rejected_after * 1000:.0f} ms (bound 500 ms)"
        )


async def test_session_revoked_says_why(
    svc: Running, connect: ClientFactory, start_verifier: VerifierFactory
) -> None:
    client = await connect(svc)
    verifier = await start_verifier(svc)
    tokens = [await client.create("iris") for _ in range(3)]
    await client.revoke_session(tokens[0].session.session_id)
    await client.revoke_session(tokens[1].session.session_id, reason="ADMINISTRATIVE")
    await client.revoke_user("iris")
    expected = ["LOGOUT", "ADMINISTRATIVE", "LOGOUT_EVERYWHERE"]
    deadline = time.monotonic() + 5
    while not all(verifier.is_revoked(t.session.session_id) for t in tokens):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    for token, reason in zip(tokens, expected, strict=True):
        with pytest.raises(SessionRevoked) as info:
            verifier.verify(token.access_token)
        assert info.value.reason == reason


class CountingClient(SessionClient):
    """Counts GetJwks calls (the real call is still made)."""

    jwks_calls = 0

    async def get_jwks(self, *, timeout: float | None = None) -> dict[str, Any]:
        self.jwks_calls += 1
        return await super().get_jwks(timeout=timeout)


class CancellationLosingClient(SessionClient):
    """After the first GetJwks, each call hangs until cancelled and then raises a client
    error instead of CancelledError, as grpc.aio does on some paths."""

    jwks_calls = 0
    hanging = asyncio.Event()

    async def get_jwks(self, *, timeout: float | None = None) -> dict[str, Any]:
        self.jwks_calls += 1
        if self.jwks_calls == 1:
            return await super().get_jwks(timeout=timeout)
        self.hanging.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise SessionClientError("CANCELLED") from None
        raise AssertionError("unreachable")


async def test_close_returns_although_a_background_call_lost_its_cancellation(svc: Running) -> None:
    client = CancellationLosingClient(f"127.0.0.1:{svc.service.port}")
    verifier = Verifier(client, jwks_refresh_interval=0.05)
    await verifier.start()
    try:
        await asyncio.wait_for(client.hanging.wait(), 5)  # the periodic refresh hangs in its call
        started = time.monotonic()
        await verifier.close()
        assert time.monotonic() - started < 1.0
        await asyncio.sleep(0.2)
        assert client.jwks_calls == 2, "the refresh loop went on after close()"
    finally:
        await client.close()


async def test_unknown_kid_refetches_the_keys_at_most_once_per_interval(
    start_service: ServiceFactory, keyring: Keyring, connect: ClientFactory
) -> None:
    r = await start_service()
    client = CountingClient(f"127.0.0.1:{r.service.port}")
    verifier = Verifier(client, jwks_refetch_interval=0.5)
    await verifier.start()
    try:
        # Key rotation: the new signer's key appears; the old one stays for verification.
        old = keyring.signer
        new_private = ed25519.Ed25519PrivateKey.generate()
        new = Key("k-new", "EdDSA", new_private.public_key(), new_private)
        rotated = Keyring(new, {old.kid: Key(old.kid, old.algorithm, old.public, None)})
        r = await restart(start_service, r, keys=rotated)
        created = await (await connect(r)).create("hal")
        assert jwt.get_unverified_header(created.access_token)["kid"] == "k-new"
        await asyncio.sleep(0.5)
        assert (await verifier.verify_async(created.access_token)).subject == "hal"
        assert client.jwks_calls == 2 and verifier.status.keys == 2
        # Made-up kids cannot turn into a flood of GetJwks calls: one per interval at most.
        for i in range(50):
            with pytest.raises(UnknownSigningKey):
                await verifier.verify_async(sign(keyring, claims_for(), kid=f"made-up-{i}"))
        assert client.jwks_calls == 2
        await asyncio.sleep(0.5)
        with pytest.raises(UnknownSigningKey):
            await verifier.verify_async(sign(keyring, claims_for(), kid="made-up-again"))
        assert client.jwks_calls == 3
    finally:
        await verifier.close()
        await client.close()


async def test_forgets_revocations_once_their_tokens_have_expired(
    svc: Running, connect: ClientFactory, start_verifier: VerifierFactory
) -> None:
    now = [time.time()]
    verifier = await start_verifier(svc, clock=lambda: now[0])
    client = await connect(svc)
    sid = (await client.create("ivy")).session.session_id
    await client.revoke_session(sid)
    deadline = time.monotonic() + 5
    while not verifier.is_revoked(sid):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    assert verifier.status.revoked_sessions == 1
    now[0] += 900 + 5 + 5 + 1  # access-token TTL, the service's leeway, the verifier's leeway
    assert not verifier.is_revoked(sid)
    assert verifier.status.revoked_sessions == 0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_refuses_forged_and_malformed_tokens(
    svc: Running, keyring: Keyring, start_verifier: VerifierFactory
) -> None:
    verifier = await start_verifier(svc)
    assert verifier.verify(sign(keyring, claims_for())).subject == "mallory"
    kid = keyring.signer.kid
    public_pem = keyring.signer.public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    payload = _b64(json.dumps(claims_for()).encode())
    unsigned = _b64(json.dumps({"alg": "none", "kid": kid, "typ": "at+jwt"}).encode()) + "." + payload + "."
    hmac_header = _b64(json.dumps({"alg": "HS256", "kid": kid, "typ": "at+jwt"}).encode())
    hmac_with_public_key = f"{hmac_header}.{payload}.{_b64(b'x' * 32)}"
    other_key = ed25519.Ed25519PrivateKey.generate()
    cases: list[tuple[str, type[Exception]]] = [
        ("not a token", MalformedToken),
        (unsigned, DisallowedAlgorithm),
        (hmac_with_public_key, DisallowedAlgorithm),
        (
            jwt.encode(claims_for(), other_key, algorithm="EdDSA", headers={"kid": kid, "typ": "at+jwt"}),
            InvalidSignature,
        ),
        (sign(keyring, claims_for(), typ="JWT"), InvalidTokenType),
        (sign(keyring, claims_for(aud="billing")), InvalidAudience),
        (sign(keyring, claims_for(iss="someone-else")), InvalidIssuer),
        (sign(keyring, claims_for(exp=int(time.time()) - 60)), TokenExpired),
        (sign(keyring, claims_for(nbf=int(time.time()) + 60)), TokenNotYetValid),
        (sign(keyring, claims_for(sid=None)), MissingClaim),
        (sign(keyring, claims_for(sub="")), MissingClaim),
    ]
    assert public_pem  # the HS256 case is the classic "public key as HMAC secret" confusion
    for token, error in cases:
        with pytest.raises(error):
            verifier.verify(token)


async def test_another_spelling_of_a_valid_token_is_malformed(
    svc: Running, keyring: Keyring, start_verifier: VerifierFactory
) -> None:
    verifier = await start_verifier(svc)
    tokens = (sign(keyring, claims_for(jti=f"j{i}")) for i in range(100))
    token = next(t for t in tokens if respellable(t))
    verifier.verify(token)  # remembered: a respelling must not be found under its digest either
    for variant in respellings(token).values():
        with pytest.raises(MalformedToken, match="base64url"):
            verifier.verify(variant)


async def test_a_validly_signed_payload_that_is_not_one_json_object_is_malformed(
    svc: Running, keyring: Keyring, start_verifier: VerifierFactory
) -> None:
    # The payload is parsed after the signature check, so these need our own key's signature.
    verifier = await start_verifier(svc)
    key = keyring.signer
    private = key.private
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    header = _b64(json.dumps({"alg": "EdDSA", "kid": key.kid, "typ": "at+jwt"}).encode())
    good = json.dumps(claims_for(), separators=(",", ":")).encode()

    def signed(payload: bytes) -> str:
        signing_input = f"{header}.{_b64(payload)}"
        return f"{signing_input}.{_b64(private.sign(signing_input.encode()))}"

    assert verifier.verify(signed(good)).subject == "mallory"
    not_one_object = (b"", b"not json", good + b"{}", b" " + good, good + b" ", b"[1]", b'"text"', b"\xff")
    for payload in not_one_object:
        with pytest.raises(MalformedToken):
            verifier.verify(signed(payload))


async def test_remembered_token_of_a_revoked_session_is_refused_at_once(
    svc: Running, connect: ClientFactory, start_verifier: VerifierFactory
) -> None:
    verifier = await start_verifier(svc)
    client = await connect(svc)
    created = await client.create("jay")
    for _ in range(3):  # the first call verifies the signature, the others find it remembered
        assert verifier.verify(created.access_token).session_id == created.session.session_id
    await client.revoke_session(created.session.session_id)
    deadline = time.monotonic() + 5
    while not verifier.is_revoked(created.session.session_id):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)
    with pytest.raises(SessionRevoked):
        verifier.verify(created.access_token)


async def test_remembered_token_expires_on_time(
    svc: Running, keyring: Keyring, start_verifier: VerifierFactory
) -> None:
    now = [time.time()]
    verifier = await start_verifier(svc, clock=lambda: now[0], leeway=5)
    exp = int(now[0]) + 60
    token = sign(keyring, claims_for(exp=exp))
    assert verifier.verify(token).expires_at == exp
    now[0] = exp + 5 - 0.001  # within the leeway: still valid, from memory
    assert verifier.verify(token).expires_at == exp
    now[0] = exp + 5
    with pytest.raises(TokenExpired):
        verifier.verify(token)


async def test_a_remembered_token_does_not_vouch_for_another_signature(
    svc: Running, keyring: Keyring, start_verifier: VerifierFactory
) -> None:
    verifier = await start_verifier(svc)
    token = sign(keyring, claims_for())
    verifier.verify(token)
    header, payload, _ = token.split(".")
    with pytest.raises(InvalidSignature):
        verifier.verify(f"{header}.{payload}.{_b64(b'x' * 64)}")
    with pytest.raises(MalformedToken):
        verifier.verify(f"{header}.{payload}")
    assert verifier.verify(token).subject == "mallory"


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256", "RS256"])
async def test_every_supported_algorithm_verifies_and_refuses_a_forged_signature(
    algorithm: str, start_service: ServiceFactory, start_verifier: VerifierFactory, connect: ClientFactory
) -> None:
    # The Verifier checks signatures itself (no pyjwt): each algorithm's own path, ES256's
    # r||s to DER conversion included, against tokens the service really issued.
    r = await start_service(keys=Keyring.generate(algorithm))
    verifier = await start_verifier(r)
    created = await (await connect(r)).create("algo")
    verified = verifier.verify(created.access_token)
    assert (verified.subject, verified.session_id) == ("algo", created.session.session_id)
    header, payload, signature = created.access_token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[len(raw) // 2] ^= 0x01
    with pytest.raises(InvalidSignature):
        verifier.verify(f"{header}.{payload}.{_b64(bytes(raw))}")
    with pytest.raises(InvalidSignature):  # a signature of the wrong length
        verifier.verify(f"{header}.{payload}.{_b64(bytes(raw[:-1]))}")


async def test_the_verifier_and_the_service_judge_registered_claims_alike(
    svc: Running, keyring: Keyring, start_verifier: VerifierFactory
) -> None:
    # One claim check, PyJWT's: the service's own verification and the Verifier agree on
    # every edge of the registered claims (numeric strings, floats, audience lists, types).
    verifier = await start_verifier(svc, leeway=5)
    codec = JwtCodec(keyring, "session-service", "internal", ttl_s=900, leeway_s=5)
    now = int(time.time())
    variants: list[dict[str, Any]] = [
        claims_for(),
        claims_for(iat=str(now)),
        claims_for(iat="soon"),
        claims_for(iat=now + 60),
        claims_for(nbf="later"),
        claims_for(nbf=now + 3),
        claims_for(exp=now + 60.5),
        claims_for(exp=str(now + 60)),
        claims_for(exp=now - 3),
        claims_for(exp=now - 6),
        claims_for(aud=["billing", "internal"]),
        claims_for(aud=["billing"]),
        claims_for(aud=[1]),
        claims_for(aud=""),
        claims_for(jti=None),
        claims_for(iat=None),
    ]
    for claims in variants:
        token = sign(keyring, claims)
        try:
            verifier.verify(token)
            accepted = True
        except TokenError:
            accepted = False
        assert accepted == (codec.verify(token) is not None), claims
