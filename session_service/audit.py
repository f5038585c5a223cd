"""Audit events: who did what to which sessions, one JSON object per line.

Every event goes through :class:`AuditLog`, which logs it at INFO on the dedicated
logger ``session_service.audit``, and, when an OpenTelemetry span is recording, also adds
it to that span as an event named after the event, with the same fields as attributes
(null fields left out).

The service writes it as one of its JSON log lines (``telemetry.JsonLogFormatter``):
``level``, ``logger`` (``session_service.audit``) and ``message`` (the event name) with
the event's own fields beside them. The log record's message is the event alone as one
line of JSON, and the record carries it as a dict in :data:`AUDIT_EVENT_ATTRIBUTE`: to
get the audit trail as a stream of its own, give that logger its own handler with a
``%(message)s`` formatter and ``propagate = False``.

Every event has:

- ``event``: the event name (below);
- ``time``: when it happened, RFC 3339 in UTC with milliseconds
  (``2026-01-02T03:04:05.678Z``);
- ``caller``: the calling service's identity (mTLS certificate SAN or caller-token
  ``sub``), or null when there is none (a system event, an unauthenticated caller)

and, by event:

- ``session_created``: ``user_id``, ``session_id``, ``client_id`` (string or null).
- ``sessions_revoked``: ``target_kind`` (``session_id``, ``refresh_token``,
  ``access_token`` or ``user_id``), ``target`` (the user id, or the session id: for a
  token target the session id derived from the token; null when the value is not a
  session id), ``count`` (sessions actually ended), ``reason`` (why, e.g. ``revoke``).
- ``refresh_token_reuse_detected``: ``session_id``, ``user_id``; the session has been
  revoked.
- ``session_evicted``: ``user_id``, ``session_ids`` (list) ended to make room under the
  per-user session limit.
- ``caller_denied``: ``rpc``, ``reason`` (``CALLER_UNAUTHENTICATED`` or
  ``CALLER_NOT_ALLOWED``), and ``suppressed`` when identical refusals were left out
  before it: per (caller, rpc, reason) a burst of 20 lines is written, then 5 a second
  (a flood of refused calls cannot flood the audit trail).
- ``signing_key_loaded``: ``kid``, ``algorithm``.
- ``impersonation_started``: ``user_id``, ``session_id``, ``impersonator`` (the operator
  acting as the user) and ``ends_at`` (RFC 3339: the session's absolute expiry, at most
  SESSION_IMPERSONATION_MAX_TTL away; it is never refreshed, so it ends then at the
  latest, or earlier, which ``impersonation_ended`` records).
- ``impersonation_ended``: ``user_id``, ``session_id``, ``impersonator`` and ``reason``
  (e.g. ``logout``, ``logout_everywhere``, ``session_limit_eviction``, ``risk_policy``,
  ``idp_logout``): an impersonation session ended before its ``ends_at``, by whatever
  ended it (``caller`` is the service that asked, when one did).
- ``token_exchanged``: ``user_id`` and ``session_id`` of the subject token, ``audience``
  and ``scopes`` (list) of the token the caller obtained by Exchange.
- ``session_reauthenticated``: ``user_id``, ``previous_session_id`` (ended),
  ``session_id`` (the session's new id), ``acr`` (string or null).
- ``session_risk``: ``user_id``, ``session_id``, ``signal`` (``network_change``,
  ``user_agent_change``, ``concurrent_networks``, ``rotation_burst``), ``action``
  (``record``, ``step_up``, ``revoke``), ``previous`` and ``current``: the two values
  compared (networks such as ``192.0.2.0/24``, browser/system families such as
  ``Firefox/Windows``, or the refresh limit and count).

For example, as the service writes it::

    {"time":"2026-01-02T03:04:05.678Z","level":"INFO","logger":"session_service.audit","message":"sessions_revoked","event":"sessions_revoked","caller":"spiffe://cluster.local/ns/shop/sa/login","target_kind":"user_id","target":"alice","count":3,"reason":"revoke"}

and as the record's message::

    {"event":"sessions_revoked","time":"2026-01-02T03:04:05.678Z","caller":"spiffe://cluster.local/ns/shop/sa/login","target_kind":"user_id","target":"alice","count":3,"reason":"revoke"}

An audit line never holds a token, a refresh-token secret, a key, claims or session
data: only identifiers. Session ids name sessions; they are not credentials.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Literal

from opentelemetry import trace

from session_service.domain.clock import Clock, SystemClock
from session_service.domain.ids import parse_refresh_token, parse_session_id
from session_service.domain.model import RevocationReason, SessionsEnded

AUDIT_LOGGER_NAME = "session_service.audit"
"""The logger every audit line is written to."""
AUDIT_EVENT_ATTRIBUTE = "audit_event"
"""The log record attribute that holds the event as a dict (``event``, ``time``, ``caller``, …)."""

RevocationTarget = Literal["session_id", "refresh_token", "access_token", "user_id"]
"""What a Revoke named."""
DenialReason = Literal["CALLER_UNAUTHENTICATED", "CALLER_NOT_ALLOWED"]
"""Why a caller was refused (the ErrorInfo reason it received)."""


class AuditLog:
    """The one emitter of audit events."""

    def __init__(
        self,
        clock: Clock | None = None,
        logger: logging.Logger | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Stamps events with ``clock`` and writes them to ``logger`` (``session_service.audit``)."""
        self._clock = clock or SystemClock()
        self._logger = logger or logging.getLogger(AUDIT_LOGGER_NAME)
        self._denials = _Throttle(DENIAL_LINES_PER_S, DENIAL_LINES_BURST, monotonic)

    def session_created(
        self, caller: str | None, user_id: str, session_id: str, client_id: str | None
    ) -> None:
        """A session was created."""
        self._emit(
            "session_created",
            caller,
            {"user_id": user_id, "session_id": session_id, "client_id": client_id or None},
        )

    def sessions_revoked(
        self,
        caller: str | None,
        target_kind: RevocationTarget,
        target: str,
        count: int,
        reason: str,
    ) -> None:
        """A Revoke ended ``count`` sessions.

        ``target`` is the session id or user id; for a token target pass the session id
        derived from the token. Should a token be passed anyway, only the session id in
        it (refresh tokens) or nothing (anything that is not a session id) is written.
        """
        self._emit(
            "sessions_revoked",
            caller,
            {
                "target_kind": target_kind,
                "target": _loggable_target(target_kind, target),
                "count": count,
                "reason": reason,
            },
        )

    def refresh_token_reuse_detected(
        self, session_id: str, user_id: str | None, caller: str | None = None
    ) -> None:
        """A rotated refresh token came back; its session has been revoked."""
        self._emit("refresh_token_reuse_detected", caller, {"session_id": session_id, "user_id": user_id})

    def session_evicted(self, user_id: str, session_ids: Sequence[str], caller: str | None = None) -> None:
        """Sessions were ended to make room under the per-user limit."""
        self._emit("session_evicted", caller, {"user_id": user_id, "session_ids": list(session_ids)})

    def sessions_ended(self, ended: SessionsEnded, caller: str | None = None) -> None:
        """Sessions ended: the service itself ended them (refresh-token reuse, eviction
        under the limit) and, whoever ended them, impersonation sessions among them.

        Ends a Revoke asked for are recorded by :meth:`sessions_revoked`, with what it named."""
        self.impersonations_ended(ended, caller)
        if ended.reason is RevocationReason.REFRESH_TOKEN_REUSE:
            for session_id in ended.session_ids:
                self.refresh_token_reuse_detected(session_id, ended.user_id or None, caller)
        elif ended.reason is RevocationReason.SESSION_LIMIT_EVICTION:
            self.session_evicted(ended.user_id, ended.session_ids, caller)

    def upstream_sessions_ended(self, issuer: str, ended: SessionsEnded, event: str) -> None:
        """An identity provider's logout or a transmitter's security ``event`` ended sessions
        (the caller field names the issuer that sent it)."""
        self._emit(
            "upstream_sessions_ended",
            issuer,
            {"reason": ended.reason.value, "signal": event, "session_ids": list(ended.session_ids)},
        )
        self.impersonations_ended(ended, issuer)

    def caller_denied(self, caller: str | None, rpc: str, reason: DenialReason) -> None:
        """A call was refused by caller authentication or the authorization policy.

        Refusals cost an attacker nothing, so their lines are throttled per (caller, rpc,
        reason): a burst, then a few per second; the next line written says how many
        identical refusals were left out (``suppressed``)."""
        suppressed = self._denials.admit((caller, rpc, reason))
        if suppressed is None:
            return
        fields: dict[str, Any] = {"rpc": rpc, "reason": reason}
        if suppressed:
            fields["suppressed"] = suppressed
        self._emit("caller_denied", caller, fields)

    def signing_key_loaded(self, kid: str, algorithm: str) -> None:
        """An access-token signing key was loaded."""
        self._emit("signing_key_loaded", None, {"kid": kid, "algorithm": algorithm})

    def impersonation_started(
        self, caller: str | None, user_id: str, session_id: str, impersonator: str, ends_at_ms: int
    ) -> None:
        """An impersonation session was created; it ends at ``ends_at_ms`` at the latest."""
        self._emit(
            "impersonation_started",
            caller,
            {
                "user_id": user_id,
                "session_id": session_id,
                "impersonator": impersonator,
                "ends_at": _rfc3339(ends_at_ms),
            },
        )

    def impersonations_ended(self, ended: SessionsEnded, caller: str | None = None) -> None:
        """Impersonation sessions ended before their time (a Revoke of any kind, eviction,
        a risk action, a logout at the identity provider, a shared signal)."""
        for session_id, impersonator in ended.impersonators.items():
            self._emit(
                "impersonation_ended",
                caller,
                {
                    "user_id": ended.user_id or None,
                    "session_id": session_id,
                    "impersonator": impersonator,
                    "reason": ended.reason.value,
                },
            )

    def token_exchanged(
        self, caller: str | None, user_id: str, session_id: str, audience: str, scopes: Sequence[str]
    ) -> None:
        """A caller obtained an exchanged token (RFC 8693) of this session."""
        self._emit(
            "token_exchanged",
            caller,
            {"user_id": user_id, "session_id": session_id, "audience": audience, "scopes": list(scopes)},
        )

    def session_reauthenticated(
        self, caller: str | None, user_id: str, previous_session_id: str, session_id: str, acr: str
    ) -> None:
        """The user authenticated again: the session moved to a new id, the old one ended."""
        self._emit(
            "session_reauthenticated",
            caller,
            {
                "user_id": user_id,
                "previous_session_id": previous_session_id,
                "session_id": session_id,
                "acr": acr or None,
            },
        )

    def session_risk(
        self, user_id: str, session_id: str, signal: str, action: str, previous: str, current: str
    ) -> None:
        """A risk signal fired for a session (domain/risk.py); ``action`` was taken."""
        self._emit(
            "session_risk",
            None,
            {
                "user_id": user_id,
                "session_id": session_id,
                "signal": signal,
                "action": action,
                "previous": previous,
                "current": current,
            },
        )

    def _emit(self, event: str, caller: str | None, fields: Mapping[str, Any]) -> None:
        entry: dict[str, Any] = {
            "event": event,
            "time": _rfc3339(self._clock.now_ms()),
            "caller": caller,
            **fields,
        }
        if self._logger.isEnabledFor(logging.INFO):
            # makeRecord + handle is Logger.info without its search of the call stack for
            # the caller's file and line (every audit line comes from here anyway).
            line = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
            self._logger.handle(
                self._logger.makeRecord(
                    self._logger.name,
                    logging.INFO,
                    __file__,
                    0,
                    line,
                    (),
                    None,
                    extra={AUDIT_EVENT_ATTRIBUTE: entry},
                )
            )
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event(
                event,
                {
                    key: value
                    for key, value in entry.items()
                    if key not in ("event", "time") and value is not None
                },
            )


DENIAL_LINES_PER_S = 5.0
"""caller_denied lines per second per (caller, rpc, reason), after the burst."""
DENIAL_LINES_BURST = 20
"""caller_denied lines written at once before the rate applies."""
_THROTTLE_KEYS = 10_000


class _Throttle:
    """A token bucket per key; what does not fit is counted for the next line that does."""

    def __init__(self, rate: float, burst: int, monotonic: Callable[[], float]) -> None:
        self._rate = rate
        self._burst = burst
        self._monotonic = monotonic
        # key -> [tokens, last refill, suppressed since the last line]
        self._buckets: dict[Hashable, list[float]] = {}

    def admit(self, key: Hashable) -> int | None:
        """None: leave this line out; else write it, with this many left out before it."""
        now = self._monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _THROTTLE_KEYS:
                # Bounded: forgetting keys only lets their next lines through sooner.
                self._buckets.clear()
            bucket = self._buckets[key] = [float(self._burst), now, 0.0]
        tokens = min(float(self._burst), bucket[0] + (now - bucket[1]) * self._rate)
        bucket[1] = now
        if tokens < 1.0:
            bucket[0] = tokens
            bucket[2] += 1
            return None
        suppressed = int(bucket[2])
        bucket[0], bucket[2] = tokens - 1.0, 0.0
        return suppressed


def _loggable_target(kind: RevocationTarget, target: str) -> str | None:
    if kind == "user_id":
        return target
    if parse_session_id(target) is not None:
        return target
    if kind == "refresh_token":
        token = parse_refresh_token(target)
        if token is not None:
            return str(token.session_id)
    return None


@functools.lru_cache(maxsize=4)
def _rfc3339_second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def _rfc3339(ms: int) -> str:
    # Integer arithmetic: ms / 1000 as a float can round 678 ms down to 677. The seconds
    # part is the same for every event within a second: formatted once.
    return f"{_rfc3339_second(ms // 1000)}.{ms % 1000:03d}Z"
