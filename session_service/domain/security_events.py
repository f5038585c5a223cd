"""Security Event Tokens (RFC 8417) and what a revocation becomes as one.

The event types of CAEP 1.0 and RISC 1.0 the service sends or receives, the SET ``typ``,
the SSF push delivery method, and the policy of the transmitter: every session a
revocation ended becomes one CAEP ``session-revoked`` event whose ``initiating_entity``
follows from the revocation's reason. No I/O: signing is tokens/, delivery transport/.
"""

from __future__ import annotations

import base64
import enum
import hashlib
from typing import Any

from session_service.domain.model import RevocationReason

SET_TYPE = "secevent+jwt"
"""The ``typ`` header of a Security Event Token (RFC 8417 section 2.3)."""
SET_MEDIA_TYPE = "application/secevent+jwt"
"""The media type a SET is pushed with (RFC 8935 section 2)."""
PUSH_DELIVERY = "urn:ietf:rfc:8935"
"""The SSF delivery method: push over HTTP (RFC 8935)."""

CAEP_SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
"""CAEP 1.0 section 3.1: a session ended."""
CAEP_CREDENTIAL_CHANGE = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
"""CAEP 1.0 section 3.3: a credential was created, changed, revoked or deleted."""
RISC_ACCOUNT_DISABLED = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
"""RISC 1.0 section 2.3: the account was disabled."""
RISC_ACCOUNT_PURGED = "https://schemas.openid.net/secevent/risc/event-type/account-purged"
"""RISC 1.0 section 2.2: the account was deleted."""

TRANSMITTED_EVENTS: tuple[str, ...] = (CAEP_SESSION_REVOKED,)
"""The event types the transmitter sends."""


class InitiatingEntity(enum.Enum):
    """Who or what caused an event (CAEP 1.0 section 2, ``initiating_entity``)."""

    ADMIN = "admin"
    USER = "user"
    POLICY = "policy"
    SYSTEM = "system"


_INITIATED_BY = {
    RevocationReason.LOGOUT: InitiatingEntity.USER,
    RevocationReason.LOGOUT_EVERYWHERE: InitiatingEntity.USER,
    RevocationReason.LOGOUT_OTHER_DEVICES: InitiatingEntity.USER,
    RevocationReason.IDP_LOGOUT: InitiatingEntity.USER,
    RevocationReason.ADMINISTRATIVE: InitiatingEntity.ADMIN,
    RevocationReason.REFRESH_TOKEN_REUSE: InitiatingEntity.POLICY,
    RevocationReason.SESSION_LIMIT_EVICTION: InitiatingEntity.POLICY,
    RevocationReason.RISK_POLICY: InitiatingEntity.POLICY,
}


def initiating_entity(reason: RevocationReason | None) -> InitiatingEntity:
    """``user`` for logouts (here or at the identity provider), ``admin`` for an
    administrative revocation, ``policy`` for refresh-token reuse, eviction and risk,
    ``system`` for the rest (a rotated session id, an upstream signal, no reason)."""
    if reason is None:
        return InitiatingEntity.SYSTEM
    return _INITIATED_BY.get(reason, InitiatingEntity.SYSTEM)


def reason_name(reason: RevocationReason | None) -> str:
    """The reason as WatchRevocations clients spell it (``LOGOUT``; ``UNSPECIFIED`` for none)."""
    return "UNSPECIFIED" if reason is None else reason.name


def event_id(receiver: str, session_id: str, revoked_at_ms: int, reason: RevocationReason | None) -> str:
    """The ``jti`` of the event that one session ended, as sent to one receiver: the same
    on every delivery attempt and from every replica, so a receiver drops repeats by it."""
    material = f"{receiver}\n{session_id}\n{revoked_at_ms}\n{reason_name(reason)}".encode()
    return base64.urlsafe_b64encode(hashlib.sha256(material).digest()[:18]).decode()


def session_revoked(
    *,
    issuer: str,
    audience: str,
    receiver: str,
    session_id: str,
    revoked_at_ms: int,
    reason: RevocationReason | None,
    issued_at: int,
    user_id: str = "",
) -> dict[str, Any]:
    """The claims of a CAEP ``session-revoked`` SET for one ended session.

    ``receiver`` names the receiver (it keys the ``jti``); ``issued_at`` is the ``iat``
    (NumericDate); ``user_id`` ('' when unknown) adds the user to the complex subject."""
    subject: dict[str, Any] = {"format": "complex", "session": {"format": "opaque", "id": session_id}}
    if user_id:
        subject["user"] = {"format": "opaque", "id": user_id}
    return {
        "iss": issuer,
        "aud": audience,
        "jti": event_id(receiver, session_id, revoked_at_ms, reason),
        "iat": issued_at,
        "sub_id": subject,
        "events": {
            CAEP_SESSION_REVOKED: {
                "event_timestamp": revoked_at_ms // 1000,
                "initiating_entity": initiating_entity(reason).value,
                "reason_admin": {"en": reason_name(reason)},
            }
        },
    }
