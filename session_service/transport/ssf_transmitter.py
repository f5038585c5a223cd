"""The SSF transmitter: every revocation on the feed, as CAEP ``session-revoked`` events
pushed to each receiver of ``SESSION_SSF_RECEIVERS_FILE`` (RFC 8935).

Per receiver, one replica of the deployment delivers at a time: every replica contends
for the receiver's lease in Redis (store/receiver_positions.py); the holder follows the
revocation feed from the receiver's position, turns each ended session into a SET
(domain/security_events.py, signed by tokens/security_events.py), pushes it, and moves
the position past a batch of events once each of them was accepted or refused for good.
A replica that dies stops renewing its lease and another takes over within the lease's
lifetime, from the position; a clean stop gives the lease up at once.

Push outcomes (RFC 8935 section 2): 202 delivered; 400 with an error object refused for
good (logged, counted, not sent again); anything else (another status, a refused
connection, a timeout) is tried again with a jittered exponential backoff capped at
``SESSION_SSF_MAX_BACKOFF``, for as long as it takes. Events are thus delivered at least
once: a position lost in a failover, or a takeover in the middle of a batch, sends some
again with the same ``jti``, which receivers drop.

The stream keeps events as long as an access token could outlive them (the access-token
lifetime plus leeway, plus a minute): the events a receiver has not taken by the time they
leave the stream never reach it. The position is then no longer in the stream, and the
holder says so in an ERROR log before sending everything the stream still holds.

The transmitter's metadata (SSF 1.0 section 7.1) and its JWK Set are served on the
signals door (:func:`transmitter_routes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import json
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from session_wire.revocations import Backoff
from session_wire.tasks import raise_if_cancel_requested, stop_tasks

from session_service.domain.clock import Clock
from session_service.domain.ports import Revocation, RevocationFeed
from session_service.domain.security_events import PUSH_DELIVERY, SET_MEDIA_TYPE, session_revoked
from session_service.errors import StoreUnavailable
from session_service.metrics import ServiceMetrics
from session_service.store.receiver_positions import ReceiverPositions
from session_service.tokens.security_events import SecurityEventSigner
from session_service.transport.signals_http import SignalRoute
from session_service.transport.ssf_transmitter_receivers import Receiver

log = logging.getLogger(__name__)

PUSH_ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_key",
        "invalid_issuer",
        "invalid_audience",
        "authentication_failed",
        "access_denied",
    }
)
"""The error codes of RFC 8935 section 2.4; any other becomes ``other`` in metrics."""

_MAX_ERROR_BODY = 64 * 1024
METADATA_PATH = "/.well-known/ssf-configuration"
"""Where the transmitter's metadata is served (SSF 1.0 section 7.1)."""
JWKS_PATH = "/jwks.json"
"""Where the keys that verify its SETs are served."""


class PushOutcome(enum.Enum):
    """What became of one push."""

    DELIVERED = "delivered"
    """202: the receiver took the event."""
    REJECTED = "rejected"
    """400 with an error object: the receiver will never take it."""
    FAILED = "failed"
    """Anything else: try again later."""


@dataclass(frozen=True)
class PushResult:
    """The outcome of one push and what the receiver said."""

    outcome: PushOutcome
    detail: str
    """The RFC 8935 error code of a rejection, else the HTTP status or error class."""


async def push_event(
    http: aiohttp.ClientSession, receiver: Receiver, event: str, *, limit_s: float
) -> PushResult:
    """Pushes one SET to the receiver (RFC 8935 section 2) within ``limit_s`` seconds."""
    headers = {"Content-Type": SET_MEDIA_TYPE, "Accept": "application/json"}
    try:
        bearer = receiver.bearer_token()
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        async with http.post(
            receiver.endpoint,
            data=event.encode(),
            headers=headers,
            ssl=receiver.ssl_context or True,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=limit_s),
        ) as response:
            if response.status == 202:
                return PushResult(PushOutcome.DELIVERED, "202")
            body = await response.content.read(_MAX_ERROR_BODY)
            if response.status == 400:
                error = _error_code(body)
                if error:
                    return PushResult(PushOutcome.REJECTED, error)
            return PushResult(PushOutcome.FAILED, f"HTTP {response.status}")
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as e:
        raise_if_cancel_requested()
        return PushResult(PushOutcome.FAILED, type(e).__name__)


def _error_code(body: bytes) -> str:
    """The ``err`` of an RFC 8935 error object ('' when the body is none)."""
    try:
        document = json.loads(body)
    except ValueError:
        return ""
    err = document.get("err") if isinstance(document, dict) else None
    return err if isinstance(err, str) and err else ""


@dataclass(frozen=True)
class TransmitterOptions:
    """How the transmitter delivers."""

    issuer: str
    """The SETs' ``iss`` (SESSION_ISSUER)."""
    max_concurrent_pushes: int = 8
    """Pushes in flight per receiver."""
    max_backoff: float = 60.0
    """Longest wait, in seconds, between attempts to push one event."""
    push_timeout: float = 10.0
    """Seconds one push may take."""
    lease_ttl: float = 10.0
    """Seconds a delivery lease lasts unless renewed: how soon another replica takes over."""


class _LeaseLost(Exception):
    """Another replica delivers to the receiver now."""


class SsfTransmitter:
    """Delivers revocations to the receivers as CAEP events; :meth:`start` and :meth:`close`."""

    def __init__(
        self,
        receivers: Sequence[Receiver],
        feed: RevocationFeed,
        positions: ReceiverPositions,
        signer: SecurityEventSigner,
        clock: Clock,
        options: TransmitterOptions,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.receivers = tuple(receivers)
        self._feed = feed
        self._positions = positions
        self._signer = signer
        self._clock = clock
        self._options = options
        self._metrics = metrics
        self._http: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._oldest_pending_ms: dict[str, int] = {}
        self._held: dict[str, str] = {}  # receiver name → lease token, while delivering
        if metrics is not None:
            for receiver in self.receivers:
                name = receiver.name
                metrics.ssf_delivery_lag.labels(name).set_function(functools.partial(self.lag, name))
                metrics.ssf_delivering.labels(name).set_function(functools.partial(self._delivering, name))

    def lag(self, receiver: str) -> float:
        """Seconds since the oldest event this replica still has to deliver to ``receiver``
        ended its session; 0 when it has none waiting."""
        oldest = self._oldest_pending_ms.get(receiver)
        return 0.0 if oldest is None else max(0.0, (self._clock.now_ms() - oldest) / 1000)

    def delivering(self, receiver: str) -> bool:
        """Whether this replica holds the receiver's lease (delivers to it) now."""
        return receiver in self._held

    def _delivering(self, receiver: str) -> float:
        return 1.0 if receiver in self._held else 0.0

    async def start(self) -> None:
        """Starts contending for every receiver's lease."""
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit_per_host=self._options.max_concurrent_pushes),
            skip_auto_headers=("User-Agent",),
        )
        for receiver in self.receivers:
            self._tasks.append(asyncio.create_task(self._serve(receiver), name=f"ssf-{receiver.name}"))

    async def close(self) -> None:
        """Stops delivering, gives up the leases it holds and closes its connections."""
        await stop_tasks(self._tasks, within=self._options.push_timeout + 2, what="SSF transmitter")
        self._tasks.clear()
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _serve(self, receiver: Receiver) -> None:
        """Contends for the receiver's lease for ever; delivers while it holds it."""
        options, name = self._options, receiver.name
        ttl_ms = max(1, int(options.lease_ttl * 1000))
        retry = Backoff(maximum=options.lease_ttl / 3, first=options.lease_ttl / 3)
        while True:
            raise_if_cancel_requested()  # a stop during the release below
            token = secrets.token_urlsafe(18)
            try:
                taken = await self._positions.acquire(name, token, ttl_ms)
            except StoreUnavailable as e:
                raise_if_cancel_requested()
                log.warning("SSF receiver %s: cannot reach Redis for its delivery lease (%s)", name, e)
                taken = False
            if not taken:
                await asyncio.sleep(retry.next_delay())
                continue
            log.info("SSF receiver %s: this replica delivers to %s", name, receiver.endpoint)
            self._held[name] = token
            # Two plain tasks rather than a TaskGroup: on Python 3.11 a TaskGroup whose child
            # fails can leave this task marked as cancelling, which would end the loop.
            parts = {
                asyncio.create_task(self._deliver(receiver, token), name=f"ssf-deliver-{name}"),
                asyncio.create_task(self._keep_lease(name, token, ttl_ms), name=f"ssf-lease-{name}"),
            }
            try:
                done, _ = await asyncio.wait(parts, return_when=asyncio.FIRST_COMPLETED)
                error = next((t.exception() for t in done if not t.cancelled() and t.exception()), None)
                if isinstance(error, _LeaseLost):
                    log.warning("SSF receiver %s: lost the delivery lease; another replica takes over", name)
                elif error is not None:
                    # A loop that stops delivering is worse than any error: log it, start over.
                    log.error("SSF receiver %s: delivery broke; starting over", name, exc_info=error)
                    await asyncio.sleep(retry.next_delay())
            finally:
                await stop_tasks(parts, within=self._options.push_timeout + 1, what=f"SSF receiver {name}")
                del self._held[name]
                self._oldest_pending_ms.pop(name, None)
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    # On a stop too: the next holder need not wait for the lease to expire.
                    async with asyncio.timeout(1.0):
                        await self._positions.release(name, token)

    async def _keep_lease(self, name: str, token: str, ttl_ms: int) -> None:
        """Renews the lease every third of its lifetime; raises _LeaseLost once it is
        gone, or once it may have expired because Redis did not answer."""
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(ttl_ms / 3000)
            try:
                if not await self._positions.renew(name, token, ttl_ms):
                    raise _LeaseLost()
                renewed = time.monotonic()
            except StoreUnavailable as e:
                raise_if_cancel_requested()
                log.warning("SSF receiver %s: cannot renew the delivery lease (%s)", name, e)
                if time.monotonic() - renewed > ttl_ms / 1000 * 0.8:
                    raise _LeaseLost() from e

    async def _deliver(self, receiver: Receiver, token: str) -> None:
        """Follows the feed from the receiver's position, pushing every event; only a
        lost lease or a cancellation ends it."""
        name = receiver.name
        backoff = Backoff(maximum=self._options.max_backoff)
        while True:
            try:
                cursor = await self._positions.position(name)
                if cursor and not self._feed.valid_cursor(cursor):
                    log.warning("SSF receiver %s: its position %r is no cursor; starting over", name, cursor)
                    cursor = ""
                stream = self._feed.watch(cursor)
                try:
                    async for batch in stream:
                        if batch.cursor_reset:
                            log.error(
                                "SSF receiver %s: its position is no longer in the revocation stream "
                                "(events after it expired from the stream before it took them, or Redis "
                                "lost the stream): some may never reach it; sending every event the "
                                "stream still holds",
                                name,
                            )
                        if batch.revocations:
                            await self._push_all(receiver, batch.revocations)
                        if batch.cursor and batch.cursor != cursor:
                            if not await self._positions.advance(name, token, batch.cursor):
                                raise _LeaseLost()
                            cursor = batch.cursor
                        backoff.reset()
                finally:
                    aclose = getattr(stream, "aclose", None)
                    if aclose is not None:
                        await aclose()
            except StoreUnavailable as e:
                raise_if_cancel_requested()
                log.warning("SSF receiver %s: the revocation feed failed (%s)", name, e)
            await asyncio.sleep(backoff.next_delay())

    async def _push_all(self, receiver: Receiver, revocations: Sequence[Revocation]) -> None:
        """Pushes one event per ended session, at most ``max_concurrent_pushes`` at once;
        returns once each was delivered or refused for good."""
        name = receiver.name
        self._oldest_pending_ms[name] = min(r.revoked_at_ms for r in revocations)
        pending = iter([(r, sid) for r in revocations for sid in r.session_ids])

        async def worker() -> None:
            for revocation, sid in pending:  # one shared iterator: each event to one worker
                await self._push_until_settled(receiver, revocation, sid)

        workers = min(self._options.max_concurrent_pushes, sum(len(r.session_ids) for r in revocations))
        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(worker())
        self._oldest_pending_ms.pop(name, None)

    async def _push_until_settled(self, receiver: Receiver, revocation: Revocation, sid: str) -> None:
        assert self._http is not None
        name, options = receiver.name, self._options
        backoff = Backoff(maximum=options.max_backoff, first=min(0.2, options.max_backoff))
        attempts = 0
        while True:
            claims = session_revoked(
                issuer=options.issuer,
                audience=receiver.audience,
                receiver=name,
                session_id=sid,
                revoked_at_ms=revocation.revoked_at_ms,
                reason=revocation.reason,
                issued_at=self._clock.now_ms() // 1000,
                user_id=revocation.user_id,
            )
            result = await push_event(
                self._http, receiver, self._signer.sign(claims), limit_s=options.push_timeout
            )
            if result.outcome is PushOutcome.DELIVERED:
                if self._metrics is not None:
                    self._metrics.ssf_events_delivered.labels(name).inc()
                return
            if result.outcome is PushOutcome.REJECTED:
                log.warning(
                    "SSF receiver %s refused event %s for good (%s); not sending it again",
                    name,
                    claims["jti"],
                    result.detail,
                )
                if self._metrics is not None:
                    error = result.detail if result.detail in PUSH_ERRORS else "other"
                    self._metrics.ssf_events_rejected.labels(name, error).inc()
                return
            attempts += 1
            if self._metrics is not None:
                self._metrics.ssf_push_failures.labels(name).inc()
            delay = backoff.next_delay()
            if attempts & (attempts - 1) == 0:  # the 1st, 2nd, 4th, 8th... failure in a row
                log.warning(
                    "SSF receiver %s: push failed (%s), attempt %d; trying again in %.1fs",
                    name,
                    result.detail,
                    attempts,
                    delay,
                )
            await asyncio.sleep(delay)


def transmitter_routes(issuer: str, signer: SecurityEventSigner, public_url: str = "") -> list[SignalRoute]:
    """The signals door's routes of the transmitter: its metadata and its JWK Set.

    ``public_url``: the door's base URL as receivers reach it, for ``jwks_uri``; '' takes
    the scheme and host of each request."""
    jwks = signer.jwks_json()

    async def metadata(request: web.Request) -> web.Response:
        base = public_url.rstrip("/") or f"{request.scheme}://{request.host}"
        document = {
            "spec_version": "1_0",
            "issuer": issuer,
            "jwks_uri": base + JWKS_PATH,
            "delivery_methods_supported": [PUSH_DELIVERY],
            "default_subjects": "ALL",
        }
        return web.json_response(document, headers={"Cache-Control": "max-age=300"})

    async def keys(_request: web.Request) -> web.Response:
        return web.Response(
            text=jwks, content_type="application/jwk-set+json", headers={"Cache-Control": "max-age=300"}
        )

    return [SignalRoute("GET", METADATA_PATH, metadata), SignalRoute("GET", JWKS_PATH, keys)]
