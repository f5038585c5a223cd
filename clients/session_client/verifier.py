"""Local verification of access tokens, with revocations pushed by the service.

A :class:`Verifier` keeps the service's public keys (fetched with GetJwks) and a set of
revoked sessions (fed by the WatchRevocations stream) in memory, so :meth:`Verifier.verify`
is pure computation: no network call, microseconds per token. It stays correct while
the keys rotate (an unknown ``kid`` triggers a rate-limited refetch) and while sessions
are revoked (the stream delivers each revocation to every connected verifier within
milliseconds; after a disconnection it resumes from its cursor without missing any).

Memory is bounded: a revoked session is forgotten once every access token it could
have had has expired (``expires_at`` of its event, plus the leeway).

Freshness. The verifier trusts its view only while it is fresh: the stream has caught
up and a message (an event or a heartbeat, sent every second of quiet; none while the
service's outbox relay is behind) arrived less than ``max_staleness`` seconds ago.
:attr:`Verifier.staleness` says how old the view is. While it is stale the verifier
never accepts silently: :meth:`Verifier.verify_async` asks ``Introspect`` for each token
(the authoritative answer, one round trip) or, with ``stale_policy="reject"``, raises
:class:`RevocationsStale`; :meth:`Verifier.verify`, which cannot do I/O, raises
:class:`RevocationsStale` under either policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
from session_wire.assurance import (
    ACR_CLAIM,
    AUTH_TIME_CLAIM,
    INSUFFICIENT_SCOPE,
    Requirement,
    unmet,
)
from session_wire.delegation import ACT_CLAIM, X5T_S256, certificate_matches, certificate_thumbprint
from session_wire.dpop import DPOP_ALGORITHMS, DpopError, HttpProof, SeenProofs, replay_window_s, verify_proof
from session_wire.revocations import RevocationEvent, RevocationView, follow_revocations
from session_wire.tasks import raise_if_cancel_requested, stop_tasks
from session_wire.token_cache import VerifiedTokenCache, token_digest
from session_wire.token_profile import DEFAULT_LEEWAY_S, REQUIRED_CLAIMS, SUPPORTED_ALGORITHMS, TOKEN_TYPE
from session_wire.v1 import session_pb2 as pb

from session_client._jws import SignatureCheck, b64url_decode, json_object, signature_check
from session_client.client import SessionClient
from session_client.errors import (
    CertificateBindingMismatch,
    DisallowedAlgorithm,
    DpopBindingMismatch,
    InsufficientScope,
    InsufficientUserAuthentication,
    InvalidAudience,
    InvalidDpopProof,
    InvalidIssuer,
    InvalidTokenType,
    MalformedToken,
    MissingClaim,
    RevocationsStale,
    SessionClientError,
    SessionRevoked,
    TokenError,
    TokenExpired,
    TokenNotYetValid,
    UnknownSigningKey,
)

log = logging.getLogger(__name__)

# The token profile is declared once, in the wire contract, for the issuer and us.
__all__ = [
    "REQUIRED_CLAIMS",
    "SUPPORTED_ALGORITHMS",
    "TOKEN_TYPE",
    "HttpProof",
    "VerifiedToken",
    "Verifier",
]


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
    cnf_jkt: str = ""
    """Thumbprint of the DPoP key the token is bound to (``cnf.jkt``; '' for a bearer token)."""
    cnf_x5t: str = ""
    """Thumbprint of the client certificate the token is bound to (``cnf.x5t#S256``, RFC 8705)."""
    actor: str = ""
    """Who acts on the user's behalf (the outermost ``act.sub``, RFC 8693); '' when nobody."""


StalePolicy = Literal["introspect", "reject"]
"""What :meth:`Verifier.verify_async` does while the revocation view is stale."""


@dataclass(frozen=True)
class VerifierStatus:
    """How much a Verifier can vouch for right now (for health checks and metrics)."""

    synced: bool
    """It has caught up with the revocation stream and heard from it within
    ``max_staleness`` seconds (its view is fresh)."""
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
    staleness: float = math.inf
    """Seconds since the view was last known complete (inf before it caught up)."""


@dataclass(frozen=True)
class _Key:
    algorithm: str
    check: SignatureCheck


_MAX_HEADERS = 64
"""Distinct verified JOSE headers remembered (one or two per key in practice)."""
_CLOSE_WITHIN_S = 5.0
"""How long :meth:`Verifier.close` waits for the background tasks."""
_MAX_BACKOFF_S = 5.0
"""The longest wait before reconnecting to the revocation stream."""

# PyJWT's claim checks, run with the Verifier's clock: jwt.decode reads the wall clock
# itself and would parse the token a second time. These per-claim methods are private
# to PyJWT, with the same signatures throughout pyjwt>=2.10,<3, the range setup.py pins.
_PYJWT = jwt.PyJWT()
_validate_iat = _PYJWT._validate_iat
_validate_nbf = _PYJWT._validate_nbf
_validate_exp = _PYJWT._validate_exp
_validate_iss = _PYJWT._validate_iss
_validate_aud = _PYJWT._validate_aud


def _check_certificate(verified: VerifiedToken, peer_certificate: bytes | str | None) -> None:
    """RFC 8705 section 3: a certificate-bound token only from the peer with that certificate."""
    if not verified.cnf_x5t:
        return
    presented = certificate_thumbprint(peer_certificate) if peer_certificate else None
    if not certificate_matches(verified.cnf_x5t, presented):
        raise CertificateBindingMismatch("the token is bound to another client certificate")


class Verifier:
    """Verifies access tokens locally and rejects those of revoked sessions.

    ``async with Verifier(client) as verifier`` (or :meth:`start`/:meth:`close`) fetches
    the keys, follows the revocation stream in a background task, and returns once it
    has caught up. Then :meth:`verify` needs no network.

    Never fail-open: while its view of the revocations is staler than ``max_staleness``
    seconds (default 5), or for tokens issued before a point from which revocations may
    have been missed, :meth:`verify_async` asks ``Introspect`` (``stale_policy=
    "introspect"``, the default) or raises :class:`RevocationsStale`
    (``stale_policy="reject"``), and :meth:`verify` raises :class:`RevocationsStale`.
    ``max_silence`` is how long the stream may stay silent before the verifier
    reconnects. ``fail_closed=True`` means ``stale_policy="reject"``; ``fail_closed=False``
    leaves ``stale_policy`` as given. The revocation view and its freshness rule are
    :class:`session_wire.revocations.RevocationView`, the server's gateway checks' too.

    A token that passed the signature and claims checks is remembered (by its SHA-256,
    at most ``cache_size`` of them, until it expires) so that verifying it again costs a
    digest and a look-up; the revocation and freshness checks still run on every call,
    so a revoked session is refused at once and an expired token on time.

    DPoP (RFC 9449): a token bound to a key (``cnf.jkt``) passes only when the request
    presented it with the DPoP scheme and a proof (``dpop=HttpProof(...)``) by that key,
    over the token's hash, for this method and URI, with an ``iat`` at most
    ``dpop_max_age`` seconds old and a ``jti`` this verifier has not seen (an in-process
    cache of at most ``dpop_replay_cache_size`` proofs, each kept while it could be
    accepted: run one verifier per resource, or proofs replayed to another process pass
    there once). A bound token without a proof, or an unbound one with a proof, raises
    :class:`DpopBindingMismatch`; a proof that fails :class:`InvalidDpopProof`.

    Delegation (RFC 8693 token exchange): ``audience`` is the one this verifier's service
    is (``orders-api``): a token for any other audience raises :class:`InvalidAudience`.
    A token bound to a client certificate (``cnf.x5t#S256``, RFC 8705) passes only with
    ``peer_certificate=``, the certificate the calling peer presented on the connection
    (DER or PEM, e.g. ``ssl_object.getpeercert(binary_form=True)``) and verified;
    otherwise it raises :class:`CertificateBindingMismatch`.
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
        max_silence: float = 10.0,
        max_staleness: float = 5.0,
        stale_policy: StalePolicy = "introspect",
        introspect_timeout: float = 2.0,
        fail_closed: bool | None = None,
        clock: Callable[[], float] = time.time,
        cache_size: int = 10_000,
        dpop_max_age: float = 60.0,
        dpop_algorithms: Sequence[str] = DPOP_ALGORITHMS,
        dpop_replay_cache_size: int = 100_000,
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
        # The issuer and audience are always checked, so they are always required.
        self._required_with_iss_aud = tuple(dict.fromkeys([*self._required, "iss", "aud"]))
        self._refetch_interval = jwks_refetch_interval
        self._refresh_interval = jwks_refresh_interval
        if stale_policy not in ("introspect", "reject"):
            raise ValueError("stale_policy must be 'introspect' or 'reject'")
        self._max_silence = max_silence
        self._max_staleness = max_staleness
        self._stale_policy: StalePolicy = "reject" if fail_closed else stale_policy
        self._introspect_timeout = introspect_timeout
        self._clock = clock
        self._stale_logged = False

        self._keys: dict[str, _Key] = {}
        self._jwks_fingerprint = ""
        self._headers: dict[bytes, _Key] = {}  # header segment → its key, after its checks
        self._verified: VerifiedTokenCache[VerifiedToken] = VerifiedTokenCache(cache_size)
        self._jwks_fetched_at = -float("inf")  # monotonic
        self._jwks_fetch: asyncio.Task[None] | None = None
        self._view = RevocationView(leeway=leeway, max_staleness=max_staleness, clock=clock)
        self._caught_up = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        if not set(dpop_algorithms) <= set(DPOP_ALGORITHMS) or not dpop_algorithms:
            raise ValueError(f"dpop_algorithms must be a non-empty subset of {DPOP_ALGORITHMS}")
        self._dpop_max_age = dpop_max_age
        self._dpop_algorithms = tuple(dpop_algorithms)
        self._seen_proofs = SeenProofs(dpop_replay_cache_size, replay_window_s(dpop_max_age, leeway))

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
            asyncio.create_task(self._watch_staleness(), name="session-verifier-staleness"),
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
        """Stops the background tasks (waiting at most a few seconds for them)."""
        tasks = [t for t in (*self._tasks, self._jwks_fetch) if t is not None]
        self._tasks = []
        await stop_tasks(tasks, within=_CLOSE_WITHIN_S, what="verifier")

    @property
    def staleness(self) -> float:
        """Seconds since the revocation view was last known complete: since the last
        message of the stream after it caught up (inf before it has caught up)."""
        return self._view.staleness

    @property
    def stale(self) -> bool:
        """Whether the view is older than ``max_staleness`` (tokens are then introspected or refused)."""
        return self._view.stale

    @property
    def status(self) -> VerifierStatus:
        """What the verifier knows right now."""
        view = self._view
        return VerifierStatus(
            synced=not view.stale,
            seconds_since_contact=view.seconds_since_contact,
            revocations_possibly_missed_before=view.missed_before,
            revoked_sessions=len(view),
            keys=len(self._keys),
            cursor=view.cursor,
            staleness=view.staleness,
        )

    def is_revoked(self, session_id: str) -> bool:
        """Whether a revocation of this session is known (and still matters)."""
        return self._view.is_revoked(session_id)

    @property
    def dpop_algorithms(self) -> tuple[str, ...]:
        """The algorithms DPoP proofs may use (the ``algs`` of a DPoP challenge)."""
        return self._dpop_algorithms

    def verify(
        self,
        token: str,
        *,
        dpop: HttpProof | None = None,
        peer_certificate: bytes | str | None = None,
        requirement: Requirement | None = None,
    ) -> VerifiedToken:
        """Checks the token locally; raises a :class:`TokenError` subclass when it fails.

        Signature with the key named by ``kid`` and only that key's algorithm; ``typ``;
        ``iss``, ``aud``, ``exp``, ``nbf``, ``iat`` (with the leeway); the required claims;
        and that its session has not been revoked. An unknown ``kid`` starts a background
        refetch of the keys (at most once per ``jwks_refetch_interval``); use
        :meth:`verify_async` to wait for it instead of failing at once.

        Raises :class:`RevocationsStale` while the revocation view is stale (see
        :attr:`staleness`), whatever the ``stale_policy``: this method does no I/O, so it
        cannot ask Introspect. :meth:`verify_async` can.

        ``dpop``: the request's DPoP proof, when it presented the token with the DPoP
        scheme; ``peer_certificate``: the client certificate of the connection the token
        came on (see the class's description); ``requirement``: what the resource requires
        of the authentication and scopes (RFC 9470 ``max_age``/``acr_values``, RFC 6750
        ``scope``): unmet, :class:`InsufficientUserAuthentication` or
        :class:`InsufficientScope` carries the challenge to answer with."""
        verified = self._verify_locally(token)
        self._check_fresh(verified.issued_at if "iat" in verified.claims else None)
        self._check_binding(token, verified, dpop)
        _check_certificate(verified, peer_certificate)
        self._check_requirement(verified, requirement, dpop is not None)
        return verified

    def _check_requirement(
        self, verified: VerifiedToken, requirement: Requirement | None, dpop: bool
    ) -> None:
        """The one rule of :func:`session_wire.assurance.unmet`, as the gateway check applies it."""
        if requirement is None or requirement.empty:
            return
        auth_time = verified.claims.get(AUTH_TIME_CLAIM)
        acr = verified.claims.get(ACR_CLAIM)
        challenge = unmet(
            requirement,
            acr=acr if isinstance(acr, str) else "",
            auth_time=auth_time if type(auth_time) is int else 0,
            scope=" ".join(verified.scopes),
            now=self._clock(),
            scheme="DPoP" if dpop else "Bearer",
        )
        if challenge is None:
            return
        if challenge.error == INSUFFICIENT_SCOPE:
            raise InsufficientScope(challenge)
        raise InsufficientUserAuthentication(challenge)

    def _check_binding(self, token: str, verified: VerifiedToken, dpop: HttpProof | None) -> None:
        """RFC 9449 section 7.1: a bound token needs a valid, unseen proof by its key."""
        if dpop is None and not verified.cnf_jkt:
            return
        if dpop is None:
            raise DpopBindingMismatch("the token is DPoP-bound: it needs the DPoP scheme and a proof")
        if not verified.cnf_jkt:
            raise DpopBindingMismatch("the token is not DPoP-bound: present it as a bearer token")
        now = self._clock()
        try:
            proof = verify_proof(
                dpop.proof,
                method=dpop.method,
                uri=dpop.uri,
                now=now,
                max_age_s=self._dpop_max_age,
                leeway_s=self._leeway,
                access_token=token,
                jkt=verified.cnf_jkt,
                algorithms=self._dpop_algorithms,
            )
        except DpopError as e:
            raise InvalidDpopProof(str(e), e.error) from e
        if not self._seen_proofs.first_use(proof, now):
            raise InvalidDpopProof("the proof's jti was used before")

    def _verify_locally(self, token: str) -> VerifiedToken:
        now = self._clock()
        try:
            raw = token.encode("ascii")
        except UnicodeEncodeError as e:
            raise MalformedToken("tokens are ASCII") from e
        digest = token_digest(raw)
        verified = self._verified.get(digest, now)
        if verified is None:
            verified = self._verify_signed(raw, now)
            # Valid until pyjwt's rule would call it expired: exp <= now - leeway.
            self._verified.put(digest, verified, verified.expires_at + self._leeway)
        sid = verified.session_id
        view = self._view
        if view.is_revoked(sid):
            raise SessionRevoked(f"session {sid} has been revoked", view.reason(sid))
        return verified

    def _verify_signed(self, token: bytes, now: float) -> VerifiedToken:
        parts = token.split(b".")
        if len(parts) != 3:
            raise MalformedToken("Not enough segments" if len(parts) < 3 else "Too many segments")
        header_segment, payload_segment, signature_segment = parts
        key = self._headers.get(header_segment)
        if key is None:
            key = self._key_for(header_segment)
        key.check(b64url_decode(signature_segment), token[: len(header_segment) + 1 + len(payload_segment)])
        claims = json_object(b64url_decode(payload_segment), "payload")
        self._check_claims(claims, now)
        sub, sid = claims["sub"], claims["sid"]
        if type(sub) is not str or not sub or type(sid) is not str or not sid:
            raise MissingClaim("sub and sid must be non-empty strings")
        scope = claims.get("scope")
        client_id = claims.get("client_id")
        cnf = claims.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        x5t = cnf.get(X5T_S256) if isinstance(cnf, dict) else None
        act = claims.get(ACT_CLAIM)
        actor = act.get("sub") if isinstance(act, dict) else None
        return VerifiedToken(
            subject=sub,
            session_id=sid,
            scopes=tuple(scope.split()) if isinstance(scope, str) else (),
            client_id=client_id if isinstance(client_id, str) else "",
            token_id=str(claims.get("jti", "")),
            issued_at=int(claims.get("iat", 0)),
            expires_at=int(claims["exp"]),
            claims=claims,
            cnf_jkt=jkt if isinstance(jkt, str) else "",
            cnf_x5t=x5t if isinstance(x5t, str) else "",
            actor=actor if isinstance(actor, str) else "",
        )

    def _key_for(self, header_segment: bytes) -> _Key:
        """The key a JOSE header names, once its typ, kid and alg have been checked."""
        header = json_object(b64url_decode(header_segment), "header")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise MalformedToken("Key ID header parameter must be a string")
        if "crit" in header or header.get("b64", True) is not True:
            raise MalformedToken("no critical or b64 header parameters are supported")
        if header.get("typ") != TOKEN_TYPE:
            raise InvalidTokenType(f"typ must be {TOKEN_TYPE}")
        key = self._keys.get(kid) if kid is not None else None
        if key is None:
            self._request_jwks_refetch()
            raise UnknownSigningKey(f"no verification key with kid {kid!r}")
        if header.get("alg") != key.algorithm:
            raise DisallowedAlgorithm(f"key {kid} is only used with {key.algorithm}")
        if len(self._headers) >= _MAX_HEADERS:
            self._headers.clear()
        self._headers[header_segment] = key
        return key

    def _check_claims(self, claims: dict[str, Any], now: float) -> None:
        """The registered claims, checked by PyJWT at ``now``; each failure as its error class."""
        try:
            for name in self._required_with_iss_aud:
                if claims.get(name) is None:
                    raise jwt.MissingRequiredClaimError(name)
            leeway = self._leeway
            if "iat" in claims:
                _validate_iat(claims, now, leeway)
            if "nbf" in claims:
                _validate_nbf(claims, now, leeway)
            _validate_exp(claims, now, leeway)
            _validate_iss(claims, self._issuer)
            _validate_aud(claims, self._audience)
        except jwt.PyJWTError as e:
            raise _token_error(e) from e

    async def verify_async(
        self,
        token: str,
        *,
        dpop: HttpProof | None = None,
        peer_certificate: bytes | str | None = None,
        requirement: Requirement | None = None,
    ) -> VerifiedToken:
        """Like :meth:`verify`, but on an unknown ``kid`` waits for the (rate-limited)
        refetch of the keys and tries once more, and while the revocation view is stale
        asks ``Introspect`` whether the token's session is still active (with
        ``stale_policy="introspect"``; inactive raises :class:`SessionRevoked`, a failed
        call :class:`RevocationsStale`). With a fresh view it never waits."""
        try:
            verified = self._verify_locally(token)
        except UnknownSigningKey:
            if self._jwks_fetch is None:
                raise
            with contextlib.suppress(SessionClientError):
                await asyncio.shield(self._jwks_fetch)
            verified = self._verify_locally(token)
        try:
            self._check_fresh(verified.issued_at if "iat" in verified.claims else None)
        except RevocationsStale:
            if self._stale_policy == "reject":
                raise
            await self._introspect(token, verified)
        self._check_binding(token, verified, dpop)
        _check_certificate(verified, peer_certificate)
        self._check_requirement(verified, requirement, dpop is not None)
        return verified

    async def _introspect(self, token: str, verified: VerifiedToken) -> None:
        try:
            answer = await self._client.introspect(
                token,
                token_type_hint="access_token",
                audience=self._audience,
                timeout=self._introspect_timeout,
            )
        except SessionClientError as e:
            raise RevocationsStale(f"revocations are stale and Introspect failed: {e}") from e
        if not answer.active or answer.sid != verified.session_id:
            raise SessionRevoked(f"session {verified.session_id} is no longer active (Introspect)")

    def _check_fresh(self, issued_at: int | None) -> None:
        view = self._view
        if view.fresh(issued_at):
            return
        if view.stale:
            raise RevocationsStale(
                f"the revocation view is {view.staleness:.1f}s old (bound {self._max_staleness}s)"
            )
        raise RevocationsStale("revocations of tokens this old may have been missed")

    async def _watch_staleness(self) -> None:
        # Only for the log line and operators; verify() computes staleness itself.
        while True:
            await asyncio.sleep(min(0.25, self._max_staleness / 4))
            self._log_staleness()

    def _log_staleness(self) -> None:
        stale = self.stale and self._caught_up.is_set()
        if stale and not self._stale_logged:
            log.warning(
                "revocation view stale (%.1fs > %.1fs): tokens are %s",
                self.staleness,
                self._max_staleness,
                "introspected" if self._stale_policy == "introspect" else "refused",
            )
        elif not stale and self._stale_logged:
            log.info("revocation view fresh again")
        self._stale_logged = stale

    # Keys.

    async def _fetch_jwks(self) -> None:
        jwks = await self._client.get_jwks()
        keys: dict[str, _Key] = {}
        fingerprint = json.dumps(jwks.get("keys", []), sort_keys=True)
        for jwk in jwks.get("keys", []):
            kid, alg = jwk.get("kid"), jwk.get("alg")
            if not isinstance(kid, str) or alg not in self._algorithms or jwk.get("use", "sig") != "sig":
                continue
            try:
                check = signature_check(alg, jwt.PyJWK(jwk, algorithm=alg).key)
            except jwt.PyJWTError as e:
                log.warning("ignoring JWK %s: %s", kid, e)
                continue
            if check is None:
                log.warning("ignoring JWK %s: its key does not fit %s", kid, alg)
                continue
            keys[kid] = _Key(alg, check)
        if fingerprint != self._jwks_fingerprint:
            # A key that left the set no longer vouches for the tokens it signed.
            self._verified.clear()
        self._jwks_fingerprint = fingerprint
        self._keys = keys
        self._headers = {}
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
            raise_if_cancel_requested()
            log.warning("could not refetch the JWKS: %s", e)

    async def _refresh_jwks(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_interval)
            await self._fetch_jwks_logged()

    # Revocations.

    async def _follow_revocations(self) -> None:
        await follow_revocations(
            self._view,
            self._client.watch_revocations,
            self._apply,
            what="revocation stream",
            expected_errors=(SessionClientError,),
            max_backoff=_MAX_BACKOFF_S,
            # The server sends a heartbeat every second of quiet: silence means a dead link.
            max_silence=self._max_silence,
        )

    def _apply(self, response: pb.WatchRevocationsResponse) -> None:
        if response.cursor_reset:
            log.warning(
                "revocation stream could not resume from %r; some may have been missed", self._view.cursor
            )
        self._view.apply(
            [
                RevocationEvent(r.session_ids, r.expires_at.ToNanoseconds() / 1e9, _reason_name(r.reason))
                for r in response.revocations
            ],
            cursor=response.cursor,
            cursor_reset=response.cursor_reset,
            caught_up=response.caught_up,
        )
        if response.caught_up:
            self._caught_up.set()
        if self._stale_logged:
            self._log_staleness()


def _reason_name(value: int) -> str:
    try:
        name = pb.RevocationReason.Name(value)  # type: ignore[arg-type]
    except ValueError:  # a reason newer than this client
        return ""
    return "" if value == 0 else name.removeprefix("REVOCATION_REASON_")


def _token_error(e: jwt.PyJWTError) -> TokenError:
    """Our error class for a claim check PyJWT failed, with PyJWT's message."""
    if isinstance(e, jwt.MissingRequiredClaimError):
        return MissingClaim(str(e))
    if isinstance(e, jwt.ExpiredSignatureError):
        return TokenExpired(str(e))
    if isinstance(e, (jwt.ImmatureSignatureError, jwt.InvalidIssuedAtError)):
        return TokenNotYetValid(str(e))
    if isinstance(e, jwt.InvalidIssuerError):
        return InvalidIssuer(str(e))
    if isinstance(e, jwt.InvalidAudienceError):
        return InvalidAudience(str(e))
    return MalformedToken(str(e))  # a time claim that is not a number
