"""Who is calling: the identity of the service behind a request.

Two sources, read by the transport's caller guard in this order:

1. **The client certificate** (mTLS, :class:`~session_service.security.tls.ServerTls`
   with a client CA): :func:`identity_from_auth_context` takes ``x509_pem_cert`` from
   ``context.auth_context()`` and returns the certificate's first URI SAN (a SPIFFE id
   such as ``spiffe://cluster.local/ns/shop/sa/login``), else its first DNS SAN, else
   None. gRPC only puts a certificate there after verifying it against the client CAs,
   and a server without a client CA never asks for one, so the value can be trusted.
2. **A bearer caller token** (clusters without mTLS): :class:`CallerTokenVerifier`
   reads ``authorization: Bearer <jwt>`` from the call metadata and verifies the JWT
   against a JWK Set file, e.g. the Kubernetes service-account issuer's keys
   (``kubectl get --raw /openid/v1/jwks``) with a projected service-account token of a
   dedicated audience. The identity is the token's ``sub``
   (``system:serviceaccount:<ns>:<sa>`` for Kubernetes).

Token settings: ``SESSION_CALLER_JWKS_FILE`` (the JWK Set, reloaded when it changes),
``SESSION_CALLER_ISSUER`` (the required ``iss``), ``SESSION_CALLER_AUDIENCE`` (the
required ``aud``). A token must carry ``exp``, ``iss``, ``aud`` and ``sub``; 30 s of clock
leeway are allowed. The algorithm comes from the JWK that the token's ``kid`` selects
(its ``alg``, or RS256/ES256/EdDSA from its ``kty``/``crv``), never from the token
header, so ``none`` and HMAC tokens never verify. A token without ``kid`` is accepted
only when the JWK Set has exactly one key. Every failure raises
:class:`~session_service.errors.CallerUnauthenticated` with a short reason; the token
itself never appears in an error or a log line.

An identity is an opaque string matched exactly by the authorization policy
(:mod:`session_service.security.policy`); None means "no credentials".
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from session_wire.b64url import is_compact_jws
from session_wire.delegation import certificate_thumbprint
from session_wire.token_cache import VerifiedTokenCache

from session_service.errors import CallerUnauthenticated, ConfigError
from session_service.security.reload import DEFAULT_POLL_INTERVAL, Reloader, Watching

log = logging.getLogger(__name__)

JWKS_FILE_SETTING = "SESSION_CALLER_JWKS_FILE"
ISSUER_SETTING = "SESSION_CALLER_ISSUER"
AUDIENCE_SETTING = "SESSION_CALLER_AUDIENCE"

CALLER_TOKEN_ALGORITHMS = ("RS256", "ES256", "EdDSA")
"""The only algorithms a caller token may be signed with."""
DEFAULT_LEEWAY_SECONDS = 30.0
"""Clock skew tolerated on ``exp``, ``nbf`` and ``iat``."""
AUTHORIZATION_METADATA_KEY = "authorization"
"""The gRPC metadata key (lower case, as gRPC delivers it) that carries the bearer token."""
AUTH_CONTEXT_CERT_KEY = "x509_pem_cert"
"""The auth-context property in which gRPC puts the verified client certificate."""

_MAX_TOKEN_CHARS = 8192
_MIN_RSA_BITS = 2048
_CERT_CACHE_SIZE = 1024
_PRIVATE_KEY_TYPES = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)


def identity_from_auth_context(auth_context: Mapping[str, Iterable[bytes]]) -> str | None:
    """The caller's identity from its verified client certificate, or None without one.

    ``auth_context`` is ``context.auth_context()`` of a gRPC call. The identity is the
    first URI SAN of the certificate (a SPIFFE id), else its first DNS SAN, else None
    (also for a certificate that does not parse).
    """
    pem = next(iter(auth_context.get(AUTH_CONTEXT_CERT_KEY, ())), None)
    return None if pem is None else _identity_from_pem(bytes(pem))


def certificate_x5t_from_auth_context(auth_context: Mapping[str, Iterable[bytes]]) -> str | None:
    """The ``x5t#S256`` (RFC 8705) of the caller's verified client certificate, or None
    without one: what Exchange binds a token to."""
    pem = next(iter(auth_context.get(AUTH_CONTEXT_CERT_KEY, ())), None)
    return None if pem is None else _x5t_from_pem(bytes(pem))


@functools.lru_cache(maxsize=_CERT_CACHE_SIZE)
def _x5t_from_pem(pem: bytes) -> str | None:
    return certificate_thumbprint(pem)


# Runs on every call with the same few certificates: parse each one once. Keyed by the
# exact bytes, so a rotated certificate is parsed anew.
@functools.lru_cache(maxsize=_CERT_CACHE_SIZE)
def _identity_from_pem(pem: bytes) -> str | None:
    try:
        cert = x509.load_pem_x509_certificate(pem)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    except ValueError:
        log.warning("the client certificate in the auth context does not parse")
        return None
    uris = names.get_values_for_type(x509.UniformResourceIdentifier)
    if uris:
        return uris[0]
    dns_names = names.get_values_for_type(x509.DNSName)
    return dns_names[0] if dns_names else None


def bearer_token(metadata: Sequence[tuple[str, str | bytes]] | None) -> str | None:
    """The bearer token in ``authorization`` metadata; None when there is no such entry.

    Raises CallerUnauthenticated when the entry is repeated or not ``Bearer <token>``.
    """
    values = [value for key, value in metadata or () if key.lower() == AUTHORIZATION_METADATA_KEY]
    if not values:
        return None
    if len(values) > 1:
        raise CallerUnauthenticated("more than one authorization entry")
    value = values[0]
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            raise CallerUnauthenticated("authorization is not a bearer token") from None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise CallerUnauthenticated("authorization is not a bearer token")
    return token


@dataclass(frozen=True)
class CallerKey:
    """One verification key of the caller JWK Set."""

    kid: str | None
    """The JWK's ``kid``; None when it has none."""
    algorithm: str
    """The only algorithm tokens signed with this key are verified with."""
    jwk: jwt.PyJWK
    """The key, bound to ``algorithm``."""


@dataclass(frozen=True)
class CallerKeySet:
    """The caller JWK Set, validated."""

    keys: Mapping[str | None, CallerKey]
    """The keys by ``kid``."""

    def select(self, kid: object) -> CallerKey:
        """The key for a token whose header has ``kid`` (None when absent).

        Raises CallerUnauthenticated when no key, or more than one, fits.
        """
        if kid is None:
            if len(self.keys) == 1:
                return next(iter(self.keys.values()))
            raise CallerUnauthenticated("caller token has no kid")
        if not isinstance(kid, str) or kid not in self.keys:
            raise CallerUnauthenticated("caller token is signed by an unknown key")
        return self.keys[kid]


def parse_caller_jwks(data: bytes, source: str = JWKS_FILE_SETTING) -> CallerKeySet:
    """Validates a JWK Set of caller-token keys; raises ValueError saying what is wrong.

    Keys meant for encryption (``use`` other than ``sig``) or for algorithms outside
    :data:`CALLER_TOKEN_ALGORITHMS` (HMAC keys among them) are skipped with a warning; a
    set left without any key is an error. The messages never quote key material; warnings
    name ``source`` (the setting or URL the set came from).
    """
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise ValueError("not valid JSON") from e
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('not a JWK Set: expected {"keys": [...]}')
    keys: dict[str | None, CallerKey] = {}
    for index, jwk in enumerate(document["keys"]):
        if not isinstance(jwk, dict):
            raise ValueError(f"keys[{index}] is not an object")
        kid = jwk.get("kid")
        if kid is not None and (not isinstance(kid, str) or not kid):
            raise ValueError(f"keys[{index}]: kid must be a non-empty string")
        name = f"keys[{index}] (kid {kid!r})"
        if jwk.get("use", "sig") != "sig":
            log.warning("%s: %s is not a signing key; skipped", source, name)
            continue
        algorithm = _algorithm_of(jwk)
        if algorithm not in CALLER_TOKEN_ALGORITHMS:
            log.warning("%s: %s is not an RS256, ES256 or EdDSA key; skipped", source, name)
            continue
        try:
            key = jwt.PyJWK(jwk, algorithm=algorithm)
        except (jwt.PyJWTError, ValueError, TypeError) as e:
            # PyJWT's messages may quote the JWK, so only ours is raised.
            raise ValueError(f"{name} is not a valid {algorithm} key") from e
        if isinstance(key.key, rsa.RSAPublicKey) and key.key.key_size < _MIN_RSA_BITS:
            raise ValueError(f"{name}: RSA keys must have at least {_MIN_RSA_BITS} bits")
        if isinstance(key.key, _PRIVATE_KEY_TYPES):
            raise ValueError(f"{name} contains a private key; publish only public keys")
        if kid in keys:
            raise ValueError(f"{name}: another key has the same kid")
        keys[kid] = CallerKey(kid=kid, algorithm=algorithm, jwk=key)
    if not keys:
        raise ValueError("no RS256, ES256 or EdDSA signing key")
    return CallerKeySet(keys=keys)


def _algorithm_of(jwk: Mapping[str, Any]) -> str | None:
    """The JWK's algorithm, from its type and curve; a declared ``alg`` must agree with them."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "RSA":
        derived = "RS256"
    elif kty == "EC" and crv == "P-256":
        derived = "ES256"
    elif kty == "OKP" and crv == "Ed25519":
        derived = "EdDSA"
    else:
        return None
    declared = jwk.get("alg", derived)
    return derived if declared == derived else None


_VERIFIED_CACHE_SIZE = 1024
"""Caller tokens remembered as verified (callers are services: few, long-lived tokens)."""


class CallerTokenVerifier(Watching):
    """Verifies bearer caller tokens against a JWK Set file that is reloaded on change."""

    def __init__(
        self,
        jwks_file: Path,
        *,
        issuer: str,
        audience: str,
        leeway: float = DEFAULT_LEEWAY_SECONDS,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> None:
        """Loads the JWK Set now; raises ConfigError when it, the issuer or the audience is unusable."""
        if not issuer:
            raise ConfigError(ISSUER_SETTING, "must be set when SESSION_CALLER_JWKS_FILE is")
        if not audience:
            raise ConfigError(AUDIENCE_SETTING, "must be set when SESSION_CALLER_JWKS_FILE is")
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway

        def parse(contents: Mapping[str, bytes]) -> CallerKeySet:
            return parse_caller_jwks(contents[JWKS_FILE_SETTING])

        self._keys: Reloader[CallerKeySet] = Reloader(
            {JWKS_FILE_SETTING: Path(jwks_file)}, parse, poll_interval=poll_interval
        )
        self._watched = self._keys
        # A caller sends the same token on every call for as long as it lives (a projected
        # service-account token: up to an hour), so its signature is checked once: the
        # (key-set generation, sub) it verified to. A reloaded key set starts over.
        self._verified: VerifiedTokenCache[tuple[int, str]] = VerifiedTokenCache(_VERIFIED_CACHE_SIZE)

    @property
    def key_set(self) -> CallerKeySet:
        """The keys currently trusted."""
        return self._keys.value

    def check(self) -> bool:
        """Looks at the JWK Set file now; True when new keys were loaded."""
        return self._keys.check()

    def verify(self, token: str) -> str:
        """The identity (``sub``) of a valid caller token; raises CallerUnauthenticated otherwise."""
        if len(token) > _MAX_TOKEN_CHARS:
            raise CallerUnauthenticated("caller token is too long")
        digest = self._verified.digest(token)
        generation = self._keys.current[0]
        known = self._verified.get(digest, time.time())
        if known is not None and known[0] == generation:
            return known[1]
        subject, valid_until = self._verify_signed(token)
        self._verified.put(digest, (generation, subject), valid_until)
        return subject

    def _verify_signed(self, token: str) -> tuple[str, float]:
        if not is_compact_jws(token):
            # PyJWT decodes base64url leniently: one token must not pass under two spellings.
            raise CallerUnauthenticated("caller token is malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise CallerUnauthenticated("caller token is malformed") from None
        key = self._keys.value.select(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key=key.jwk,
                algorithms=[key.algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.InvalidTokenError as e:
            # `from None`: the chained PyJWT exception could carry token fragments into logs.
            raise CallerUnauthenticated(_failure_reason(e)) from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise CallerUnauthenticated("caller token has an empty sub")
        # Valid until pyjwt would call it expired: exp <= now - leeway.
        return subject, float(claims["exp"]) + self._leeway

    def identity_from_metadata(self, metadata: Sequence[tuple[str, str | bytes]] | None) -> str | None:
        """The identity in a call's bearer caller token; None when the call carries none.

        Raises CallerUnauthenticated when a token is present but does not verify.
        """
        token = bearer_token(metadata)
        return None if token is None else self.verify(token)


def _failure_reason(e: jwt.InvalidTokenError) -> str:
    # Fixed texts: the reason goes back to the caller and into logs.
    if isinstance(e, jwt.ExpiredSignatureError):
        return "caller token has expired"
    if isinstance(e, jwt.ImmatureSignatureError):
        return "caller token is not valid yet"
    if isinstance(e, jwt.InvalidAudienceError):
        return "caller token is for another audience"
    if isinstance(e, jwt.InvalidIssuerError):
        return "caller token is from another issuer"
    if isinstance(e, jwt.MissingRequiredClaimError):
        return f"caller token lacks the {e.claim} claim"
    if isinstance(e, jwt.InvalidAlgorithmError):
        return "caller token algorithm is not accepted"
    if isinstance(e, jwt.InvalidSignatureError):
        return "caller token signature does not verify"
    return "caller token is invalid"
