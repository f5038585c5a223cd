"""How and when a session's user authenticated, and what a route may require of it.

Create and Reauthenticate record an authentication (``acr``, ``amr``, ``auth_time``);
access tokens carry it (RFC 9470), and the gateway check holds it to a route's
:class:`~session_wire.assurance.Requirement` with :func:`requirement_challenge`, the one
place the doors (Envoy ``Check``, forward-auth) take their 401 ``insufficient_user_authentication``
and 403 ``insufficient_scope`` from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from session_wire.assurance import Challenge, Requirement, unmet
from session_wire.token_profile import DEFAULT_LEEWAY_S

from session_service.domain.model import Introspection
from session_service.domain.validation import Violations

MAX_ACR = 256
"""Longest ``acr`` value."""
MAX_AMR_VALUES = 16
"""Most ``amr`` values per authentication."""
MAX_AMR_VALUE = 32
"""Longest ``amr`` value (RFC 8176 values are a few letters)."""
AUTH_TIME_LEEWAY_MS = DEFAULT_LEEWAY_S * 1000
"""How far in the future an ``auth_time`` may be (the login service's clock skew)."""

# RFC 6749 scope-token characters: no space, quote or backslash, so a value can stand in
# a WWW-Authenticate quoted-string and a space-separated list as it is.
_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


@dataclass(frozen=True)
class Authentication:
    """One authentication of a user, as Create and Reauthenticate record it."""

    acr: str = ""
    """Authentication Context Class Reference ('' when not said)."""
    amr: tuple[str, ...] = ()
    """Authentication Methods References (RFC 8176)."""
    auth_time_ms: int = 0
    """When (ms since the epoch); 0 means now."""


def validated_authentication(
    v: Violations, authentication: Authentication, now_ms: int, prefix: str = ""
) -> Authentication:
    """Adds violations for a malformed authentication (an ``acr`` or ``amr`` value that is
    not a token of bounded size, too many ``amr`` values, an ``auth_time`` in the future
    beyond the leeway or before the epoch); returns it with ``amr`` deduplicated and an
    unset ``auth_time`` made ``now_ms``."""
    acr, amr, auth_time = authentication.acr, authentication.amr, authentication.auth_time_ms
    if acr and (len(acr) > MAX_ACR or not _TOKEN.fullmatch(acr)):
        v.add(f"{prefix}acr", f"must be at most {MAX_ACR} characters without spaces, quotes or backslashes")
    amr = tuple(dict.fromkeys(amr))
    if len(amr) > MAX_AMR_VALUES:
        v.add(f"{prefix}amr", f"must have at most {MAX_AMR_VALUES} values")
    for i, method in enumerate(amr[:MAX_AMR_VALUES]):
        if len(method) > MAX_AMR_VALUE or not _TOKEN.fullmatch(method):
            v.add(f"{prefix}amr[{i}]", f"must be 1 to {MAX_AMR_VALUE} characters without spaces or quotes")
    if auth_time < 0:
        v.add(f"{prefix}auth_time", "must not be before 1970")
    elif auth_time > now_ms + AUTH_TIME_LEEWAY_MS:
        v.add(f"{prefix}auth_time", "must not be in the future")
    return Authentication(acr, amr, min(auth_time, now_ms) if auth_time > 0 else now_ms)


def requirement_challenge(
    identity: Introspection, requirement: Requirement, now_ms: int, scheme: str = "Bearer"
) -> Challenge | None:
    """The challenge for an active token that does not meet a route's requirement (RFC
    9470 section 3 or RFC 6750 section 3.1), None when it does; ``scheme`` is the one the
    request used (``Bearer`` or ``DPoP``)."""
    if requirement.empty:
        return None
    return unmet(
        requirement,
        acr=identity.acr,
        auth_time=identity.auth_time,
        scope=identity.scope,
        now=now_ms / 1000,
        scheme=scheme,
    )


class RequirementUnmet(Exception):
    """A valid token does not meet its route's requirement; ``challenge`` says how to answer."""

    def __init__(self, challenge: Challenge) -> None:
        super().__init__(challenge.description)
        self.challenge = challenge
        """The status and WWW-Authenticate challenge for the client."""
