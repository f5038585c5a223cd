"""Local verification of access tokens, with revocations pushed by the service.

A :class:`Verifier` keeps the service's public keys (fetched with GetJwks) and a set of
revoked sessions (fed by the WatchRevocations stream) in memory, so :meth:`Verifier.verify`
is pure computation: no network call, microseconds per token. It stays correct while
the keys rotate (an unknown ``kid`` triggers a rate-limited refetch) and while sessions
are revoked (the stream delivers each revocation to every connected verifier within
milliseconds; after a disconnection it resumes from its cursor without missing any).

Memory is bounded: a revoked session is forgotten once every access token it could
have had has expired (``expires_at`` of its event, plus the leeway).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt
from session_wire.token_profile import DEFAULT_LEEWAY_S, REQUIRED_CLAIMS, SUPPORTED_ALGORITHMS, TOKEN_TYPE
from session_wire.v1 import session_pb2 as pb

from session_client.client import SessionClient
from session_client.errors import (
    DisallowedAlgorithm,
    InvalidAudience,
    InvalidIssuer,
    InvalidSignature,
    InvalidTokenType,
    MalformedToken,
    MissingClaim,
    RevocationsStale,
    SessionClientError,
    SessionRevoked,
    TokenExpired,
    TokenNotYetValid,
    UnknownSigningKey,
)

log = logging.getLogger(__name__)

# The token profile is declared once, in the wire contract, for the issuer and us.
__all__ = ["REQUIRED_CLAIMS", "SUPPORTED_ALGORITHMS", "TOKEN_TYPE", "VerifiedToken", "Verifier"]


@dataclass(frozen=True)
class VerifiedToken:
    """The claims of an access token that passed every check."""

    subject: str
    """The user (``sub``)."""
    session_id: str
    """The session (``sid``)."""
    scopes: tuple[str, ...]
    """Granted scopes (``scope``, split)."""
    client_id: str
    """The application the session was created for ('' if none)."""
    token_id: str
    """``jti``."""
    issued_at: int
    """``iat``, NumericDate."""
    expires_at: int
    """``exp``, NumericDate."""
    claims: Mapping[str, Any] = field(repr=False)
    """Every claim, including the session's extra claims."""


@dataclass(frozen=True)
class VerifierStatus:
    """How much a Verifier can vouch for right now (for health checks and metrics)."""

    synced: bool
    """It has caught up with the revocation stream and heard from it recently."""
    seconds_since_contact: float | None
    """Since the last message of the revocation stream; None before the first."""
    revocations_possibly_missed_before: float | None
    """Set after the stream could not resume from the verifier's cursor: revocations of
    tokens issued before this time (epoch seconds) may be unknown. None when complete."""
    revoked_sessions: int
    """Revoked sessions currently remembered."""
    keys: int
    """Verification keys currently known."""
    cursor: str
    """Where the revocation stream resumes."""


@dataclass(frozen=True)
class _Key:
    algorithm: str
    key: Any


class Verifier:
    """Verifies access tokens locally and rejects those of revoked sessions.

    ``async with Verifier(client) as verifier`` (or :meth:`start`/:meth:`close`) fetches
    the keys, follows the revocation stream in a background task, and returns once it
    has caught up. Then :meth:`verify` needs no network.

    Fail-open or fail-closed: with ``fail_closed=False`` (the default) a verifier that
    has lost its revocation stream keeps accepting tokens that are otherwise valid (they
    expire within the access-token lifetime anyway) and reports it in :attr:`status`;
    with ``fail_closed=True`` it raises :class:`RevocationsStale` instead while it has not
    heard from the stream for ``max_silence`` seconds, and for tokens issued before a
    point from which revocations may have been missed.
    """

    def __init__(
        self,
        client: SessionClient,
        *,
        issuer: str = "session-service",
        audience: str = "internal",
        leeway: float = DEFAULT_LEEWAY_S,
        algorithms: Sequence[str] = SUPPORTED_ALGORITHMS,
        required_claims: Sequence[str] = REQUIRED_CLAIMS,
        jwks_refetch_interval: float = 30.0,
        jwks_refresh_interval: float = 300.0,
        max_silence: float = 20.0,
        fail_closed: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        unsupported = set(algorithms) - set(SUPPORTED_ALGORITHMS)
        if unsupported or not algorithms:
            raise ValueError(f"algorithms must be a non-empty subset of {SUPPORTED_ALGORITHMS}")
        self._client = client
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._algorithms = frozenset(algorithms)
        self._required = list(dict.fromkeys([*required_claims, "sub", "sid", "exp"]))
        self._refetch_interval = jwks_refetch_interval
        self._refresh_interval = jwks_refresh_interval
        self._max_silence = max_silence
        self._fail_closed = fail_closed
        self._clock = clock

        self._keys: dict[str, _Key] = {}
        self._jwks_fetched_at = -float("inf")  # monotonic
        self._jwks_fetch: asyncio.Task[None] | None = None
        self._revoked: dict[str, float] = {}  # session id → forget after (epoch seconds)
        self._expiry: list[tuple[float, str]] = []  # heap of (forget after, session id)
        self._cursor = ""
        self._caught_up = asyncio.Event()
        self._last_contact: float | None = None  # monotonic
        self._missed_before: float | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Verifier:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self, catch_up_within: float = 10.0) -> None:
        """Fetches the keys and catches up with the revocation stream.

        Raises the client's errors if the keys cannot be fetched, TimeoutError if the
        stream has not caught up within ``catch_up_within`` seconds."""
        await self._fetch_jwks()
        self._tasks = [
            asyncio.create_task(self._follow_revocations(), name="session-verifier-revocations"),
            asyncio.create_task(self._refresh_jwks(), name="session-verifier-jwks"),
        ]
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that arrives as the awaited future completes.
            async with asyncio.timeout(catch_up_within):
                await self._caught_up.wait()
        except TimeoutError:
            await self.close()
            raise

    async def close(self) -> None:
        """Stops the background tasks."""
        tasks = [*self._tasks, *([self._jwks_fetch] if self._jwks_fetch else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    @property
    def status(self) -> VerifierStatus:
        """What the verifier knows right now."""
        age = None if self._last_contact is None else time.monotonic() - self._last_contact
        return VerifierStatus(
            synced=self._caught_up.is_set() and age is not None and age <= self._max_silence,
            seconds_since_contact=age,
            revocations_possibly_missed_before=self._missed_before,
            revoked_sessions=len(self._revoked),
            keys=len(self._keys),
            cursor=self._cursor,
        )

    def is_revoked(self, session_id: str) -> bool:
        """Whether a revocation of this session is known (and still matters)."""
        if self._expiry and self._expiry[0][0] <= self._clock():
            self._forget_expired(self._clock())
        return session_id in self._revoked

    def verify(self, token: str) -> VerifiedToken:
        """Checks the token locally; raises a :class:`TokenError` subclass when it fails.

        Signature with the key named by ``kid`` and only that key's algorithm; ``typ``;
        ``iss``, ``aud``, ``exp``, ``nbf``, ``iat`` (with the leeway); the required claims;
        and that its session has not been revoked. An unknown ``kid`` starts a background
        refetch of the keys (at most once per ``jwks_refetch_interval``); use
        :meth:`verify_async` to wait for it instead of failing at once."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise MalformedToken(str(e)) from e
        if header.get("typ") != TOKEN_TYPE:
            raise InvalidTokenType(f"typ must be {TOKEN_TYPE}")
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            self._request_jwks_refetch()
            raise UnknownSigningKey(f"no verification key with kid {kid!r}")
        if header.get("alg") != key.algorithm:
            raise DisallowedAlgorithm(f"key {kid} is only used with {key.algorithm}")
        claims = self._decode(token, key)
        sub, sid = claims.get("sub"), claims.get("sid")
        if not isinstance(sub, str) or not sub or not isinstance(sid, str) or not sid:
            raise MissingClaim("sub and sid must be non-empty strings")
        if self.is_revoked(sid):
            raise SessionRevoked(f"session {sid} has been revoked")
        if self._fail_closed:
            self._check_fresh(int(claims["iat"]) if "iat" in claims else None)
        scope = claims.get("scope")
        client_id = claims.get("client_id")
        return VerifiedToken(
            subject=sub,
            session_id=sid,
            scopes=tuple(scope.split()) if isinstance(scope, str) else (),
            client_id=client_id if isinstance(client_id, str) else "",
            token_id=str(claims.get("jti", "")),
            issued_at=int(claims.get("iat", 0)),
            expires_at=int(claims["exp"]),
            claims=claims,
        )

    async def verify_async(self, token: str) -> VerifiedToken:
        """Like :meth:`verify`, but on an unknown ``kid`` waits for the (rate-limited)
        refetch of the keys and tries once more. Otherwise it never waits."""
        try:
            return self.verify(token)
        except UnknownSigningKey:
            if self._jwks_fetch is None:
                raise
            with contextlib.suppress(SessionClientError):
                await asyncio.shield(self._jwks_fetch)
            return self.verify(token)

    def _decode(self, token: str, key: _Key) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": self._required},
            )
        except jwt.ExpiredSignatureError as e:
            raise TokenExpired(str(e)) from e
        except (jwt.ImmatureSignatureError, jwt.InvalidIssuedAtError) as e:
            raise TokenNotYetValid(str(e)) from e
        except jwt.InvalidAudienceError as e:
            raise InvalidAudience(str(e)) from e
        except jwt.InvalidIssuerError as e:
            raise InvalidIssuer(str(e)) from e
        except jwt.MissingRequiredClaimError as e:
            raise MissingClaim(str(e)) from e
        except jwt.InvalidSignatureError as e:
            raise InvalidSignature(str(e)) from e
        except jwt.InvalidAlgorithmError as e:
            raise DisallowedAlgorithm(str(e)) from e
        except jwt.PyJWTError as e:
            raise MalformedToken(str(e)) from e
        return claims

    def _check_fresh(self, issued_at: int | None) -> None:
        status = self.status
        if not status.synced:
            raise RevocationsStale("not in contact with the revocation stream")
        missed = status.revocations_possibly_missed_before
        if missed is not None and (issued_at is None or issued_at <= missed):
            raise RevocationsStale("revocations of tokens this old may have been missed")

    # Keys.

    async def _fetch_jwks(self) -> None:
        jwks = await self._client.get_jwks()
        keys: dict[str, _Key] = {}
        for jwk in jwks.get("keys", []):
            kid, alg = jwk.get("kid"), jwk.get("alg")
            if not isinstance(kid, str) or alg not in self._algorithms or jwk.get("use", "sig") != "sig":
                continue
            try:
                keys[kid] = _Key(alg, jwt.PyJWK(jwk, algorithm=alg).key)
            except jwt.PyJWTError as e:
                log.warning("ignoring JWK %s: %s", kid, e)
        self._keys = keys
        self._jwks_fetched_at = time.monotonic()

    def _request_jwks_refetch(self) -> None:
        # Tokens with made-up kids must not turn into a flood of GetJwks calls.
        if self._jwks_fetch is not None and not self._jwks_fetch.done():
            return
        if time.monotonic() - self._jwks_fetched_at < self._refetch_interval:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # verify() called off the loop: the periodic refresh will do
            return
        self._jwks_fetched_at = time.monotonic()
        self._jwks_fetch = loop.create_task(self._fetch_jwks_logged())

    async def _fetch_jwks_logged(self) -> None:
        try:
            await self._fetch_jwks()
        except SessionClientError as e:
            log.warning("could not refetch the JWKS: %s", e)

    async def _refresh_jwks(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_interval)
            await self._fetch_jwks_logged()

    # Revocations.

    async def _follow_revocations(self) -> None:
        backoff = 0.05
        while True:
            stream = self._client.watch_revocations(self._cursor)
            try:
                while True:
                    # The server sends a heartbeat every few seconds: silence means a dead link.
                    async with asyncio.timeout(self._max_silence):
                        response = await anext(stream)
                    self._apply(response)
                    backoff = 0.05
            except StopAsyncIteration:
                log.info("revocation stream ended by the server; reconnecting")
            except TimeoutError:
                log.warning("revocation stream silent for %.0fs; reconnecting", self._max_silence)
            except SessionClientError as e:
                log.warning("revocation stream failed (%s); reconnecting in %.2fs", e, backoff)
            except Exception:
                # Whatever it was, a verifier that stops following revocations is worse.
                log.exception("revocation stream broke unexpectedly; reconnecting in %.2fs", backoff)
            finally:
                await stream.aclose()
            await asyncio.sleep(backoff * (0.5 + random.random()))  # noqa: S311 - jitter, not crypto
            backoff = min(backoff * 2, 5.0)

    def _apply(self, response: pb.WatchRevocationsResponse) -> None:
        self._last_contact = time.monotonic()
        now = self._clock()
        if response.cursor_reset:
            self._missed_before = now
            log.warning("revocation stream could not resume from %r; some may have been missed", self._cursor)
        for revocation in response.revocations:
            forget_after = revocation.expires_at.ToNanoseconds() / 1e9 + self._leeway
            if forget_after <= now:
                continue
            for sid in revocation.session_ids:
                if forget_after > self._revoked.get(sid, 0.0):
                    self._revoked[sid] = forget_after
                    heapq.heappush(self._expiry, (forget_after, sid))
        if response.cursor:
            self._cursor = response.cursor
        if response.caught_up:
            self._caught_up.set()
        self._forget_expired(now)

    def _forget_expired(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] <= now:
            forget_after, sid = heapq.heappop(self._expiry)
            if self._revoked.get(sid) == forget_after:
                del self._revoked[sid]
