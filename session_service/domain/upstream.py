"""Ending our sessions from upstream: an identity provider's logout (OIDC Back-Channel
Logout) or a transmitter's security event (CAEP, RISC) names its own session or subject,
and every session of ours created from it ends, through the same script and revocation
feed as Revoke."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Protocol

from session_service.domain.clock import Clock
from session_service.domain.ids import SessionId
from session_service.domain.model import IdpSession, RevocationReason, SessionsEnded

PARALLEL_ENDS = 16
"""Users whose sessions are ended at once: a provider's logout of many costs a bounded
burst on Redis."""


class UpstreamIndex(Protocol):
    """What ending sessions by an identity provider's session or subject needs of the store."""

    async def idp_sessions(self, idp: IdpSession, now_ms: int) -> list[SessionId]:
        """Our sessions indexed under the IdP session (or subject, without a session id)."""

    async def forget_idp_sessions(self, idp: IdpSession, sessions: Sequence[SessionId], now_ms: int) -> None:
        """Removes ended sessions from that index."""

    async def live_owners(self, sids: Sequence[SessionId], now_ms: int) -> list[str | None]:
        """The user of each live session, None for an ended one, in order."""

    async def revoke_sessions(
        self, user_id: str, sids: Sequence[SessionId], now_ms: int, reason: RevocationReason
    ) -> SessionsEnded:
        """Ends those of the user's live sessions, recording their revocation event (the
        script Revoke of a user runs, in the user's slot)."""

    async def first_signal(self, issuer: str, jti: str, window_ms: int) -> bool:
        """Records a token id for ``window_ms``; False when it was recorded before."""

    async def signal_seen(self, issuer: str, jti: str) -> bool:
        """Whether a token id is recorded."""


class UpstreamSessions:
    """Ends our sessions that an upstream identity provider or transmitter names."""

    def __init__(
        self,
        store: UpstreamIndex,
        clock: Clock,
        on_ended: Callable[[str, SessionsEnded, str], None] | None = None,
    ) -> None:
        """``on_ended(issuer, ended, event)`` hears every end (the audit trail)."""
        self._store = store
        self._clock = clock
        self._on_ended = on_ended

    async def end_once(
        self, idp: IdpSession, reason: RevocationReason, event: str, *, jti: str, remember_s: int
    ) -> SessionsEnded | None:
        """:meth:`end`, unless the issuer's token ``jti`` came before (None: a replay).

        The id is recorded (for ``remember_s`` seconds, in Redis, for every replica) only
        once the sessions have ended: a sender that retries after a failure is not taken
        for a replay, and a replay after success ends nothing."""
        if await self._store.signal_seen(idp.issuer, jti):
            return None
        ended = await self.end(idp, reason, event)
        await self._store.first_signal(idp.issuer, jti, remember_s * 1000)
        return ended

    async def seen_before(self, issuer: str, jti: str) -> bool:
        """Whether the issuer's token ``jti`` was recorded by :meth:`remember`."""
        return await self._store.signal_seen(issuer, jti)

    async def remember(self, issuer: str, jti: str, remember_s: int) -> bool:
        """Records the issuer's token ``jti`` for ``remember_s`` seconds; False when it was
        recorded before."""
        return await self._store.first_signal(issuer, jti, remember_s * 1000)

    async def end(self, idp: IdpSession, reason: RevocationReason, event: str) -> SessionsEnded:
        """Ends every live session of ours created from ``idp.session_id`` at ``idp.issuer``
        or, when it names no session id, every one of ``idp.subject`` there.

        The sessions are grouped by user (one Redis Cluster slot each) and each group ends
        through the script that Revoke of a user runs, its event reaching the revocation
        feed; an index member whose session already ended is skipped and pruned."""
        now = self._clock.now_ms()
        found = await self._store.idp_sessions(idp, now)
        by_user: dict[str, list[SessionId]] = {}
        for sid, owner in zip(found, await self._store.live_owners(found, now), strict=True):
            if owner is not None:
                by_user.setdefault(owner, []).append(sid)
        limit = asyncio.Semaphore(PARALLEL_ENDS)

        async def end_of(user_id: str, sids: list[SessionId]) -> SessionsEnded:
            async with limit:
                return await self._store.revoke_sessions(user_id, sids, now, reason)

        results = await asyncio.gather(*(end_of(user, sids) for user, sids in by_user.items()))
        ended = SessionsEnded(
            reason,
            tuple(s for result in results for s in result.session_ids),
            impersonators={sid: who for result in results for sid, who in result.impersonators.items()},
        )
        await self._store.forget_idp_sessions(idp, found, now)
        if ended.session_ids and self._on_ended is not None:
            self._on_ended(idp.issuer, ended, event)
        return ended
