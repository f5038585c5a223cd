"""A session's activity and what its risk signals make the service do.

Refresh (with ``RefreshRequest.client``) and the gateway checks (the client's address and
user agent) tell :class:`ActivityWatch` who used a session. It records the session's last
client (at most one write a minute per session while the client stays the same, see
:meth:`~session_service.domain.risk.Activity.needs_write`), assesses the risk signals
(:mod:`session_service.domain.risk`) and takes the strongest configured action:
``record`` hands each signal to ``on_risk`` (the audit event ``session_risk`` and the
metric), ``step_up`` also revokes the session's current access tokens and stops its
refreshes until Reauthenticate, ``revoke`` ends the session
(REVOCATION_REASON_RISK_POLICY).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from session_service.domain.ids import SessionId, parse_session_id
from session_service.domain.model import ClientInfo, RevocationReason, Session, SessionsEnded
from session_service.domain.ports import SessionStore
from session_service.domain.risk import (
    ACTIVITY_WRITE_INTERVAL_MS,
    Activity,
    Detected,
    RiskAction,
    RiskPolicy,
    assess,
    strongest,
)
from session_service.errors import ReauthenticationRequired, RefreshTokenInvalid

RiskListener = Callable[[Detected, str, str], None]
"""Hears each detected signal with the session id and user id (the audit, the metric)."""

MAX_REMEMBERED_CLIENTS = 100_000
"""Sessions whose last written client a gateway replica remembers (its write throttle)."""


class ActivityWatch:
    """Records who uses sessions and acts on their risk signals."""

    def __init__(
        self,
        store: SessionStore,
        policy: RiskPolicy,
        *,
        on_risk: RiskListener = lambda detected, session_id, user_id: None,
        on_ended: Callable[[SessionsEnded], None] = lambda ended: None,
    ) -> None:
        """``on_ended`` hears a session the ``revoke`` action ended."""
        self._store = store
        self.policy = policy
        """The actions and parameters of the signals."""
        self._on_risk = on_risk
        self._on_ended = on_ended
        # Per session: the client this replica last wrote for it, and when. A gateway
        # sees every request; only a change or a minute's age reaches the store.
        self._written: dict[str, tuple[ClientInfo, int]] = {}

    async def refreshed(
        self, session: Session, before: Activity | None, client: ClientInfo, now_ms: int
    ) -> Session:
        """After a rotation of ``session``'s refresh token by ``client`` (empty fields: not
        said), with ``before`` the activity the session held: records it and acts; returns
        the session with its last client. Raises ReauthenticationRequired (step_up) or
        RefreshTokenInvalid (revoke): then the tokens just issued must not be handed out."""
        sid = parse_session_id(session.session_id)
        if before is None or sid is None:
            return session
        watching = self.policy.watches_activity
        if before.needs_write(client, now_ms, refreshing=watching):
            await self._store.record_activity(sid, client, now_ms, refreshing=watching)
        if client.ip or client.user_agent or client.device:
            last = before.last_client
            session = dataclasses.replace(
                session,
                last_client=ClientInfo(
                    client.ip or last.ip, client.user_agent or last.user_agent, client.device or last.device
                ),
            )
        if not watching:
            return session
        detected = assess(self.policy, before, client, now_ms, refreshing=True)
        action = await self._act(sid, session.user_id, detected, now_ms)
        if action is RiskAction.STEP_UP:
            raise ReauthenticationRequired()
        if action is RiskAction.REVOKE:
            raise RefreshTokenInvalid()
        return session

    async def seen(self, session_id: str, user_id: str, client: ClientInfo, now_ms: int) -> RiskAction:
        """A gateway let a request of ``client`` through for the session: records it (when
        the client changed or a minute passed since this replica wrote it) and acts; the
        action taken, so the door refuses the request after step_up or revoke."""
        sid = parse_session_id(session_id)
        if sid is None or not (client.ip or client.user_agent):
            return RiskAction.IGNORE
        written = self._written.get(session_id)
        if written is not None and written[0] == client and now_ms - written[1] < ACTIVITY_WRITE_INTERVAL_MS:
            return RiskAction.IGNORE
        if len(self._written) >= MAX_REMEMBERED_CLIENTS:
            self._written.clear()
        self._written[session_id] = (client, now_ms)
        before = await self._store.record_activity(sid, client, now_ms)
        if before is None or not self.policy.watches_activity:
            return RiskAction.IGNORE
        return await self._act(sid, user_id, assess(self.policy, before, client, now_ms), now_ms)

    async def _act(self, sid: SessionId, user_id: str, detected: list[Detected], now_ms: int) -> RiskAction:
        for d in detected:
            self._on_risk(d, str(sid), user_id)
        action = strongest(detected)
        if action is RiskAction.STEP_UP:
            await self._store.step_up(sid, now_ms, RevocationReason.RISK_POLICY)
        elif action is RiskAction.REVOKE:
            ended = await self._store.revoke(sid, now_ms, RevocationReason.RISK_POLICY)
            if ended.session_ids:
                self._on_ended(ended)
        return action
