"""Gateway checks: the access check (:mod:`session_service.domain.access`), made fast.

Gateways (Envoy ``Check``, HTTP forward-auth) ask about every request, so in ``local``
mode the answer comes from memory whenever memory is trustworthy:

- a token verified before is found in the cache of verified tokens that
  :class:`~session_service.domain.access.AccessCheck` keeps (by SHA-256 digest, until
  ``exp``; the token itself is never kept);
- a session ended since is in :class:`RevokedSessions`, which follows this server's own
  revocation feed (the one ``WatchRevocations`` serves, from the first check on) into a
  :class:`session_wire.revocations.RevocationView`, the view the client's Verifier keeps:
  a revocation is forgotten once every access token of that session has expired;
- freshness is that view's rule: the feed must have caught up and been heard from within
  ``max_silence`` seconds, no revocation event may wait in an outbox, and the token must
  be newer than any point from which revocations may have been missed (a lost cursor).
  When that does not hold, the check reads the session in the store, exactly as
  Introspect does.

In ``authoritative`` mode every check reads the store. Either way the result is an
:class:`~session_service.domain.model.Introspection`: active with the identity, or
INACTIVE. A store that cannot be read raises StoreUnavailable.

DPoP (RFC 9449) is part of the one check: a token bound to a key (``cnf.jkt``) passes
only with a proof by that key over the token's hash for the request's method and URI,
never seen before by any replica (:class:`~session_service.domain.dpop.DpopCheck`); a
bound token presented as a bearer token, or an unbound one with a proof, is INACTIVE
(section 7.1). A proof that fails raises DpopProofInvalid.

Audiences and certificates are part of it too: a token passes only for the audience the
route requires (SESSION_AUDIENCE unless the door says otherwise), and a token bound to a
client certificate (RFC 8705, from token exchange) only with the certificate the client
presented to the proxy.

So are a route's requirements (RFC 9470): a valid token of a user who authenticated too
long ago (``max_age``) or not in a required way (``acr_values``), or one without a scope
the route requires, raises RequirementUnmet with the challenge
(:mod:`session_service.domain.assurance`) that every door answers with.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable

from session_wire.assurance import Requirement
from session_wire.delegation import certificate_matches
from session_wire.dpop import HttpProof
from session_wire.revocations import RevocationEvent, RevocationView, follow_revocations
from session_wire.tasks import stop_tasks

from session_service.domain.access import AccessCheck
from session_service.domain.activity import ActivityWatch
from session_service.domain.assurance import RequirementUnmet, requirement_challenge
from session_service.domain.clock import Clock
from session_service.domain.dpop import DpopCheck
from session_service.domain.ids import parse_session_id
from session_service.domain.model import INACTIVE, ClientInfo, Introspection
from session_service.domain.ports import RevocationBatch, RevocationFeed
from session_service.domain.risk import RiskAction
from session_service.errors import SessionError

__all__ = ["GatewayCheck", "RevokedSessions"]

log = logging.getLogger(__name__)

_MAX_BACKOFF_S = 2.0
"""The longest wait before following the feed again after it ended or failed."""


class RevokedSessions:
    """Sessions this process knows to have ended, fed by the revocation feed, and how fresh that is."""

    def __init__(
        self,
        feed: RevocationFeed,
        clock: Clock,
        *,
        max_silence_s: float,
        leeway_s: float,
        monotonic: Callable[[], float] = time.monotonic,
        relay_lagging: Callable[[], bool] = lambda: False,
    ) -> None:
        """``max_silence_s``: how long the feed may go unheard (it sends heartbeats more often)
        before :meth:`fresh` says no; ``leeway_s``: how long past a revocation's
        ``expires_at`` it is remembered (the tokens' clock-skew leeway); ``relay_lagging``:
        whether some revocation events could not reach the stream yet (store/outbox.py),
        when a feed that flows is still not the whole truth."""
        self._feed = feed
        self._view = RevocationView(
            leeway=leeway_s,
            max_staleness=max_silence_s,
            clock=lambda: clock.now_ms() / 1000,
            monotonic=monotonic,
            lagging=relay_lagging,
        )
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.caught_up = asyncio.Event()
        """Set once the first replay of retained revocations is done."""

    def start(self) -> None:
        """Starts following the feed in the background, unless it already does or was closed."""
        if (self._task is None or self._task.done()) and not self._closed:
            # A fresh context: the follower outlives the call that happened to start it.
            self._task = asyncio.create_task(
                self._follow(), name="gateway-revocations", context=contextvars.Context()
            )

    async def close(self) -> None:
        """Stops following the feed, for good."""
        self._closed = True
        if self._task is not None:
            await stop_tasks([self._task], within=2.0, what="gateway revocation follower")
            self._task = None

    def fresh(self, issued_at_s: int) -> bool:
        """Whether what this set knows is complete enough to trust for a token issued then."""
        return self._view.fresh(issued_at_s)

    def is_revoked(self, session_id: str) -> bool:
        """Whether an ended session of this id is known (and its tokens could still be valid)."""
        return self._view.is_revoked(session_id)

    def apply(self, batch: RevocationBatch) -> None:
        """Takes in one step of the feed."""
        if batch.cursor_reset:
            log.warning("the revocation feed could not resume; older tokens are checked in the store")
        self._view.apply(
            (RevocationEvent(r.session_ids, r.expires_at_ms / 1000) for r in batch.revocations),
            cursor=batch.cursor,
            cursor_reset=batch.cursor_reset,
            caught_up=batch.caught_up,
        )
        if batch.caught_up:
            self.caught_up.set()

    async def _follow(self) -> None:
        await follow_revocations(
            self._view,
            self._feed.watch,
            self.apply,
            what="gateway revocation feed",
            expected_errors=(SessionError,),
            max_backoff=_MAX_BACKOFF_S,
        )


class GatewayCheck:
    """Answers "whose request is this?" for an access token, fast and fresh."""

    def __init__(
        self,
        access: AccessCheck,
        clock: Clock,
        *,
        revoked: RevokedSessions | None,
        max_token: int,
        dpop: DpopCheck | None = None,
        activity: ActivityWatch | None = None,
    ) -> None:
        """``revoked`` None means ``authoritative`` mode: every check reads the store;
        ``dpop`` None refuses every DPoP-bound token; ``activity`` records who uses the
        sessions and acts on their risk signals (None: neither)."""
        self._dpop = dpop
        self._activity = activity
        self._access = access
        self._clock = clock
        self._revoked = revoked
        self._max_token = max_token

    @property
    def revoked(self) -> RevokedSessions | None:
        """The revocations followed in ``local`` mode; None in ``authoritative`` mode."""
        return self._revoked

    @property
    def dpop_algorithms(self) -> tuple[str, ...]:
        """The algorithms DPoP proofs may use (the ``algs`` of a DPoP challenge)."""
        return self._dpop.algorithms if self._dpop is not None else ()

    async def check(
        self,
        token: str,
        proof: HttpProof | None = None,
        *,
        audience: str = "",
        peer_x5t: str | None = None,
        requirement: Requirement | None = None,
        client: ClientInfo | None = None,
    ) -> Introspection:
        """The token's identity when it is valid, its session live and, for a DPoP-bound
        token, ``proof`` valid; else INACTIVE. ``proof``: the request's DPoP proof when it
        presented the token with the DPoP scheme, None for a bearer token.

        The token must be for ``audience`` (the route's, '' means SESSION_AUDIENCE); a
        token bound to a client certificate (``cnf.x5t#S256``, RFC 8705) passes only when
        ``peer_x5t``, the thumbprint of the certificate the client presented, is its.

        A valid token must also meet the route's ``requirement`` (RFC 9470: ``max_age``,
        ``acr_values``; RFC 6750: ``scope``), else RequirementUnmet carries the challenge.
        ``client``: who sent the request (its address and user agent), recorded as the
        session's last client; a risk signal whose action is step_up or revoke makes the
        token INACTIVE at once.

        Raises DpopProofInvalid for a proof that fails (once the token passed), and
        StoreUnavailable when the answer needs the store and the store fails."""
        if not token or len(token) > self._max_token:
            return INACTIVE
        identity = await self._identity(token, audience)
        if identity.cnf_x5t and not certificate_matches(identity.cnf_x5t, peer_x5t):
            return INACTIVE
        if not identity.active:
            return identity
        if identity.cnf_jkt or proof:
            sid = parse_session_id(identity.sid)
            if proof is None or not identity.cnf_jkt or self._dpop is None or sid is None:
                return INACTIVE
            await self._dpop.verify(proof, sid.tag, access_token=token, jkt=identity.cnf_jkt)
        if requirement is not None:
            scheme = "DPoP" if proof is not None else "Bearer"
            challenge = requirement_challenge(identity, requirement, self._clock.now_ms(), scheme)
            if challenge is not None:
                raise RequirementUnmet(challenge)
        if client is not None and self._activity is not None:
            action = await self._activity.seen(identity.sid, identity.sub, client, self._clock.now_ms())
            if action in (RiskAction.STEP_UP, RiskAction.REVOKE):
                return INACTIVE
        return identity

    async def _identity(self, token: str, audience: str) -> Introspection:
        now = self._clock.now_ms()
        if self._revoked is None:
            return await self._access.authoritative(token, now, audience) or INACTIVE
        # Followed from the first check on: a server no gateway asks costs the feed nothing.
        self._revoked.start()
        # The same cache of verified tokens as Introspect's (AccessCheck owns it).
        identity = self._access.verified(token, now, audience)
        if identity is None:
            return INACTIVE
        if self._revoked.is_revoked(identity.sid):
            return INACTIVE
        if not self._revoked.fresh(identity.iat):
            return await self._access.confirm(identity, now)
        return identity
