"""Authentication requirements of a route and their challenges (RFC 9470, RFC 6750).

A route may require that the user authenticated recently (``max_age``: seconds since the
token's ``auth_time``), in one of some ways (``acr_values``: space-separated, any of
them), and that the token carries scopes (``scope``: space-separated, all of them). The
server's gateway check and the client's Verifier decide with :func:`unmet`, and answer
with the challenge it gives:

- authentication unmet: 401 ``WWW-Authenticate: Bearer
  error="insufficient_user_authentication", error_description="...", acr_values="...",
  max_age="..."`` (RFC 9470 section 3), so the client can ask the user to log in again
  with the required ``acr_values`` and ``max_age``;
- scopes missing: 403 ``WWW-Authenticate: Bearer error="insufficient_scope",
  scope="..."`` (RFC 6750 section 3.1).

Depends on nothing but the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "ACR_CLAIM",
    "AMR_CLAIM",
    "AUTH_TIME_CLAIM",
    "INSUFFICIENT_SCOPE",
    "INSUFFICIENT_USER_AUTHENTICATION",
    "Challenge",
    "Requirement",
    "unmet",
]

ACR_CLAIM = "acr"
"""Authentication Context Class Reference (OpenID Connect Core section 2)."""
AMR_CLAIM = "amr"
"""Authentication Methods References, a list (RFC 8176 values)."""
AUTH_TIME_CLAIM = "auth_time"
"""When the user authenticated, NumericDate."""

INSUFFICIENT_USER_AUTHENTICATION = "insufficient_user_authentication"
"""RFC 9470 section 3: the authentication is too old or not of a required class."""
INSUFFICIENT_SCOPE = "insufficient_scope"
"""RFC 6750 section 3.1: the token lacks a scope the route requires."""

MAX_REQUIRED_VALUES = 16
"""Most acr values or scopes one route may require."""

_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")
"""An acr value or a scope: RFC 6749 scope-token characters (no space, quote or
backslash, so it can stand in a quoted-string unescaped), at most 128 of them."""


@dataclass(frozen=True)
class Requirement:
    """What a route requires of a token beyond being valid."""

    max_age: int | None = None
    """Most seconds since ``auth_time``; None: any age."""
    acr_values: tuple[str, ...] = ()
    """The ``acr`` must be one of these; empty: any."""
    scopes: tuple[str, ...] = ()
    """The token's ``scope`` must hold all of these."""

    @property
    def empty(self) -> bool:
        """Whether it requires nothing."""
        return self.max_age is None and not self.acr_values and not self.scopes

    @classmethod
    def parse(cls, values: Callable[[str], Sequence[str]]) -> Requirement:
        """The requirement a route's configuration states: ``values(name)`` gives every value
        of ``max_age``, ``acr_values`` and ``scope`` (a URL query's, Envoy's
        ``context_extensions``', or arguments). Raises ValueError naming what is malformed:
        a repeated name, a ``max_age`` that is not a non-negative integer, a value that is
        not a space-separated list of tokens."""
        max_age = _one(values, "max_age")
        acr_values = _one(values, "acr_values")
        scope = _one(values, "scope")
        age: int | None = None
        if max_age is not None:
            if not max_age.isdigit() or len(max_age) > 10:
                raise ValueError("max_age must be a number of seconds")
            age = int(max_age)
        return cls(age, _tokens("acr_values", acr_values), _tokens("scope", scope))


@dataclass(frozen=True)
class Challenge:
    """A refusal for a requirement unmet, as HTTP says it."""

    status: int
    """401 (authentication) or 403 (scope)."""
    error: str
    """:data:`INSUFFICIENT_USER_AUTHENTICATION` or :data:`INSUFFICIENT_SCOPE`."""
    description: str
    """A human-readable reason (error_description)."""
    www_authenticate: str
    """The ``WWW-Authenticate`` header value."""


def unmet(
    requirement: Requirement,
    *,
    acr: str,
    auth_time: int,
    scope: str,
    now: float,
    scheme: str = "Bearer",
) -> Challenge | None:
    """The challenge for a token whose ``acr``, ``auth_time`` (NumericDate, 0 when it has
    none) and ``scope`` do not meet ``requirement`` at ``now`` (seconds); None when they
    do. Authentication comes first: a new login can bring new scopes too.

    A token without ``auth_time`` meets no ``max_age``; one from the future (clock skew)
    counts as just authenticated."""
    too_old = requirement.max_age is not None and (auth_time <= 0 or now - auth_time > requirement.max_age)
    wrong_class = bool(requirement.acr_values) and acr not in requirement.acr_values
    if too_old or wrong_class:
        if wrong_class:
            description = "A different authentication level is required"
        else:
            description = "More recent authentication is required"
        params = [
            ("error", INSUFFICIENT_USER_AUTHENTICATION),
            ("error_description", description),
        ]
        if requirement.acr_values:
            params.append(("acr_values", " ".join(requirement.acr_values)))
        if requirement.max_age is not None:
            params.append(("max_age", str(requirement.max_age)))
        return Challenge(401, INSUFFICIENT_USER_AUTHENTICATION, description, _header(scheme, params))
    granted = set(scope.split())
    if any(s not in granted for s in requirement.scopes):
        description = "The access token lacks a scope this resource requires"
        params = [
            ("error", INSUFFICIENT_SCOPE),
            ("error_description", description),
            ("scope", " ".join(requirement.scopes)),
        ]
        return Challenge(403, INSUFFICIENT_SCOPE, description, _header(scheme, params))
    return None


def _header(scheme: str, params: list[tuple[str, str]]) -> str:
    # Every value is made of token characters and spaces (checked at parse): no escaping.
    return scheme + " " + ", ".join(f'{name}="{value}"' for name, value in params)


def _one(values: Callable[[str], Sequence[str]], name: str) -> str | None:
    found = values(name)
    if len(found) > 1:
        raise ValueError(f"{name} is given more than once")
    return found[0] if found else None


def _tokens(name: str, value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    tokens = tuple(dict.fromkeys(value.split(" ")))
    if not value or any(not _TOKEN.fullmatch(t) for t in tokens):
        raise ValueError(f"{name} must be space-separated tokens")
    if len(tokens) > MAX_REQUIRED_VALUES:
        raise ValueError(f"{name} may name at most {MAX_REQUIRED_VALUES} values")
    return tokens
