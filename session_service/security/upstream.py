"""Trust in upstream signal senders: identity providers that send OIDC back-channel logout
tokens (``SESSION_OIDC_LOGOUT_ISSUERS_FILE``) and Shared Signals transmitters that push
Security Event Tokens (``SESSION_SSF_TRANSMITTERS_FILE``); their keys, read from a file or
fetched from an ``https`` JWKS URL; and the checks every signed token from them passes.

A JWKS URL is fetched with a size cap and a timeout, cached for :data:`JWKS_CACHE_SECONDS`,
and fetched again when a token names a ``kid`` the cache lacks, at most once per
:data:`JWKS_REFETCH_SECONDS`. Plain ``http`` is allowed only to a loopback address (a
sidecar, a test), never across a network.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import jwt

from session_service.domain.clock import Clock
from session_service.errors import ConfigError
from session_service.security.caller import (
    CALLER_TOKEN_ALGORITHMS,
    CallerKey,
    CallerKeySet,
    parse_caller_jwks,
)
from session_service.security.documents import is_loopback_host, load_document, yaml_allowed

log = logging.getLogger(__name__)

LOGOUT_ISSUERS_SETTING = "SESSION_OIDC_LOGOUT_ISSUERS_FILE"
SSF_TRANSMITTERS_SETTING = "SESSION_SSF_TRANSMITTERS_FILE"

SIGNAL_ALGORITHMS = CALLER_TOKEN_ALGORITHMS
"""The only algorithms a logout token or SET may be signed with (never ``none`` or HMAC)."""
JWKS_MAX_BYTES = 256 * 1024
"""The largest JWKS document fetched; a larger one is refused."""
JWKS_TIMEOUT_SECONDS = 3.0
"""How long a JWKS fetch may take in all."""
JWKS_CACHE_SECONDS = 300.0
"""How long fetched keys are used before they are fetched again."""
JWKS_REFETCH_SECONDS = 60.0
"""The least time between two fetches an unknown ``kid`` causes."""
JWKS_RETRY_SECONDS = 1.0
"""How long requests are refused at once (503) after a failed fetch, instead of each
waiting for the URL again."""
MAX_TOKEN_CHARS = 16 * 1024
"""The longest logout token or SET read."""


class SignalRejected(Exception):
    """A signed token or its request was refused; ``code`` is the error code to answer with
    (section 2.8 of OIDC Back-Channel Logout, section 2.3 of RFC 8935)."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class KeysUnavailable(Exception):
    """An issuer's JWKS URL could not be fetched (down, slow): the sender should retry."""


@dataclass(frozen=True)
class UpstreamIssuer:
    """One trusted sender of signed signals."""

    issuer: str
    """Its ``iss``."""
    audience: str
    """The ``aud`` its tokens must carry: our client id there (or our receiver's audience)."""
    jwks_file: str = ""
    """A JWK Set file of its keys; or:"""
    jwks_uri: str = ""
    """An ``https`` URL of its JWK Set."""
    bearer_token: str = ""
    """SSF: the token its push requests must carry (Authorization: Bearer); '' for none."""
    idp_issuer: str = ""
    """SSF: the identity provider whose sessions and subjects its events name (its own
    issuer when not set): the ``issuer`` of our sessions' ``idp``."""


def _check_jwks_uri(setting: str, where: str, uri: str) -> None:
    parts = urlsplit(uri)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback_host(parts.hostname):
        return
    raise ConfigError(
        setting, f"{where}: jwks_uri must be an https URL (plain http only to a loopback address)"
    )


def load_issuers(path: Path, setting: str, *, transmitters: bool = False) -> dict[str, UpstreamIssuer]:
    """The issuers file: ``issuers:`` (or ``transmitters:``), a list of entries with ``issuer``,
    ``audience``, ``jwks_file`` or ``jwks_uri``, and for transmitters ``bearer_token_file`` and
    ``idp_issuer``. Raises ConfigError naming ``setting`` when it is missing or invalid."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(setting, f"cannot read {path}: {e.strerror}") from e
    try:
        document = load_document(data, yaml_allowed=yaml_allowed(path))
    except ValueError as e:
        raise ConfigError(setting, f"{path}: {e}") from None
    top = "transmitters" if transmitters else "issuers"
    entries = document.get(top) if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(setting, f"expected an object with a list {top!r}")
    found: dict[str, UpstreamIssuer] = {}
    for index, entry in enumerate(entries):
        where = f"{top}[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(setting, f"{where} is not an object")
        allowed = {"issuer", "audience", "jwks_file", "jwks_uri"}
        if transmitters:
            allowed |= {"bearer_token_file", "idp_issuer"}
        unknown = set(entry) - allowed
        if unknown:
            raise ConfigError(setting, f"{where}: unknown fields {sorted(unknown)}")
        values = {name: entry.get(name, "") for name in allowed}
        if not all(isinstance(v, str) for v in values.values()):
            raise ConfigError(setting, f"{where}: every field is a string")
        if not values["issuer"] or not values["audience"]:
            raise ConfigError(setting, f"{where}: issuer and audience are required")
        if bool(values["jwks_file"]) == bool(values["jwks_uri"]):
            raise ConfigError(setting, f"{where}: exactly one of jwks_file and jwks_uri")
        if values["jwks_uri"]:
            _check_jwks_uri(setting, where, values["jwks_uri"])
        token = ""
        if values.get("bearer_token_file"):
            try:
                token = Path(values["bearer_token_file"]).read_text().strip()
            except OSError as e:
                raise ConfigError(setting, f"{where}: cannot read bearer_token_file: {e.strerror}") from e
            if not token:
                raise ConfigError(setting, f"{where}: bearer_token_file is empty")
        if transmitters and not token:
            raise ConfigError(
                setting, f"{where}: bearer_token_file is required (RFC 8935 push is authenticated)"
            )
        if values["issuer"] in found:
            raise ConfigError(setting, f"{where}: issuer {values['issuer']!r} appears twice")
        found[values["issuer"]] = UpstreamIssuer(
            issuer=values["issuer"],
            audience=values["audience"],
            jwks_file=values["jwks_file"],
            jwks_uri=values["jwks_uri"],
            bearer_token=token,
            idp_issuer=values.get("idp_issuer", "") or values["issuer"],
        )
    return found


class IssuerKeys:
    """One issuer's verification keys: from its file (read at start) or its JWKS URL."""

    def __init__(self, issuer: UpstreamIssuer, setting: str) -> None:
        """Reads a ``jwks_file`` now (ConfigError when invalid); a URL is fetched on first use."""
        self._issuer = issuer
        self._keys: CallerKeySet | None = None
        self._fetched_at = float("-inf")
        self._last_refetch = float("-inf")
        self._failed_at = float("-inf")
        self._generation = 0
        self._lock = asyncio.Lock()
        if issuer.jwks_file:
            try:
                self._keys = parse_caller_jwks(
                    Path(issuer.jwks_file).read_bytes(), f"{setting} {issuer.issuer}"
                )
            except (OSError, ValueError) as e:
                raise ConfigError(setting, f"{issuer.issuer}: jwks_file: {e}") from e

    async def key(self, kid: str | None) -> CallerKey | None:
        """The key for ``kid`` (None: the only key); None when the issuer has no such key.
        Raises KeysUnavailable when the JWKS URL cannot be fetched, SignalRejected
        (invalid_key) when what it serves is no usable JWK Set."""
        if not self._issuer.jwks_uri:
            return _select(self._keys, kid)
        if self._keys is None or time.monotonic() - self._fetched_at > JWKS_CACHE_SECONDS:
            await self._fetch()
        found = _select(self._keys, kid)
        if found is None and time.monotonic() - self._last_refetch >= JWKS_REFETCH_SECONDS:
            # The issuer may have rotated to a key our copy lacks; once a minute at most,
            # or tokens with made-up kids would have us fetch for every request.
            self._last_refetch = time.monotonic()
            await self._fetch()
            found = _select(self._keys, kid)
        return found

    async def _fetch(self) -> None:
        generation = self._generation
        async with self._lock:
            if self._generation != generation:
                return  # another request fetched while this one waited
            if time.monotonic() - self._failed_at < JWKS_RETRY_SECONDS:
                raise KeysUnavailable("the JWKS URL failed a moment ago")
            try:
                data = await _fetch_jwks(self._issuer.jwks_uri)
                keys = parse_caller_jwks(data, self._issuer.jwks_uri)
            except ValueError as e:
                self._failed_at = time.monotonic()
                raise SignalRejected("invalid_key", f"the issuer's JWKS is unusable: {e}") from e
            except (KeysUnavailable, SignalRejected):
                self._failed_at = time.monotonic()
                raise
            self._keys, self._fetched_at = keys, time.monotonic()
            self._generation += 1


def _select(keys: CallerKeySet | None, kid: str | None) -> CallerKey | None:
    if keys is None:
        return None
    if kid is None:
        return next(iter(keys.keys.values())) if len(keys.keys) == 1 else None
    return keys.keys.get(kid)


async def _fetch_jwks(uri: str) -> bytes:
    timeout = aiohttp.ClientTimeout(total=JWKS_TIMEOUT_SECONDS)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(uri, allow_redirects=False, headers={"Accept": "application/json"}) as response,
        ):
            if response.status != 200:
                raise KeysUnavailable(f"the JWKS URL answered {response.status}")
            if (response.content_length or 0) > JWKS_MAX_BYTES:
                raise SignalRejected(
                    "invalid_key", f"the issuer's JWKS is larger than {JWKS_MAX_BYTES} bytes"
                )
            data = await response.content.read(JWKS_MAX_BYTES + 1)
            if len(data) > JWKS_MAX_BYTES:
                raise SignalRejected(
                    "invalid_key", f"the issuer's JWKS is larger than {JWKS_MAX_BYTES} bytes"
                )
            return data
    except (aiohttp.ClientError, TimeoutError, OSError) as e:
        raise KeysUnavailable(f"the JWKS URL could not be fetched: {type(e).__name__}") from e


@dataclass(frozen=True)
class VerifiedToken:
    """A signed token whose signature, issuer and audience were verified."""

    issuer: UpstreamIssuer
    """Who sent it."""
    claims: Mapping[str, Any]
    """Its claims."""


class SignalVerifier:
    """Verifies compact JWS tokens from a set of trusted issuers."""

    def __init__(
        self, issuers: Mapping[str, UpstreamIssuer], setting: str, *, max_age_s: int, clock: Clock
    ) -> None:
        """``max_age_s``: how far ``iat`` may lie in the past or the future."""
        self.issuers = dict(issuers)
        self._clock = clock
        self._keys = {name: IssuerKeys(issuer, setting) for name, issuer in issuers.items()}
        self.max_age_s = max_age_s

    async def verify(self, token: str, *, typ: str, error_for: Mapping[str, str]) -> VerifiedToken:
        """Checks shape, ``alg``, ``typ`` (when present: ``typ`` or ``application/typ``),
        the issuer, the signature, ``aud``, ``iat`` within the window and ``exp`` if
        present. ``error_for`` maps ``issuer``, ``audience``, ``key`` and ``request`` to
        the error code each failure answers with."""
        if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise SignalRejected(error_for["request"], "not a signed JWT (compact JWS)")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError as e:
            raise SignalRejected(error_for["request"], "not a signed JWT (compact JWS)") from e
        alg = header.get("alg")
        if alg not in SIGNAL_ALGORITHMS:
            raise SignalRejected(error_for["key"], f"alg must be one of {', '.join(SIGNAL_ALGORITHMS)}")
        token_type = header.get("typ")
        if token_type is not None and (
            not isinstance(token_type, str) or token_type.lower() not in (typ, f"application/{typ}")
        ):
            raise SignalRejected(error_for["request"], f"typ must be {typ}")
        iss = unverified.get("iss")
        issuer = self.issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise SignalRejected(error_for["issuer"], "the issuer is not trusted")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise SignalRejected(error_for["key"], "kid must be a string")
        try:
            key = await self._keys[issuer.issuer].key(kid)
        except SignalRejected as e:
            raise SignalRejected(error_for["key"], e.description) from e
        if key is None:
            raise SignalRejected(error_for["key"], "signed by a key the issuer does not publish")
        if key.algorithm != alg:
            raise SignalRejected(error_for["key"], "the alg does not fit the key")
        try:
            claims = jwt.decode(
                token,
                key.jwk,
                algorithms=[key.algorithm],
                audience=issuer.audience,
                issuer=issuer.issuer,
                # iat and exp are checked below, against our clock.
                options={"require": ["iat"], "verify_iat": False, "verify_exp": False},
            )
        except jwt.InvalidAudienceError as e:
            raise SignalRejected(error_for["audience"], "aud does not name us") from e
        except jwt.MissingRequiredClaimError as e:
            code = {"aud": error_for["audience"], "iss": error_for["issuer"]}.get(
                e.claim, error_for["request"]
            )
            raise SignalRejected(code, f"the {e.claim} claim is missing") from e
        except jwt.InvalidSignatureError as e:
            raise SignalRejected(error_for["key"], "the signature does not verify") from e
        except jwt.InvalidTokenError as e:
            raise SignalRejected(error_for["request"], f"invalid: {type(e).__name__}") from e
        iat = claims.get("iat")
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            raise SignalRejected(error_for["request"], "iat must be a number")
        now = self._clock.now_ms() / 1000
        if abs(now - iat) > self.max_age_s:
            raise SignalRejected(error_for["request"], f"iat is more than {self.max_age_s}s from now")
        exp = claims.get("exp")
        if exp is not None and (not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= now):
            raise SignalRejected(error_for["request"], "expired (exp)")
        return VerifiedToken(issuer, claims)

    def remember_for_s(self, claims: Mapping[str, Any]) -> int:
        """How long a token's ``jti`` must be remembered: while its ``iat`` (and ``exp``)
        could still let it pass."""
        until = float(claims["iat"]) + self.max_age_s
        exp = claims.get("exp")
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            until = max(until, float(exp))
        return max(1, int(until - self._clock.now_ms() / 1000) + 1)
