"""DPoP proofs (RFC 9449): the checks of section 4.3, shared by every door that accepts one.

A proof is a JWS the client signs with its own key for one HTTP request. The server's
``Create`` and ``Refresh``, its gateway doors (forward-auth, Envoy ``Check``) and the
Python Verifier all call :func:`verify_proof`; each keeps its own ``jti`` replay cache
(the server's in Redis, shared by its replicas) and, where it uses them, its own nonces.

Nothing here performs I/O. Base64url is decoded strictly: padding, characters outside
the URL-safe alphabet and non-canonical trailing bits are refused, so one proof has one
spelling.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
from jwt.exceptions import InvalidKeyError, PyJWTError

from session_wire.token_cache import VerifiedTokenCache

__all__ = [
    "DPOP_ALGORITHMS",
    "INVALID_DPOP_PROOF",
    "INVALID_TOKEN",
    "NONCE_HEADER",
    "PROOF_TYPE",
    "USE_DPOP_NONCE",
    "DpopError",
    "HttpProof",
    "SeenProofs",
    "VerifiedProof",
    "access_token_hash",
    "b64url_decode",
    "challenge",
    "dpop_token",
    "jwk_thumbprint",
    "normalize_htu",
    "replay_window_s",
    "verify_proof",
]

PROOF_TYPE = "dpop+jwt"
"""The ``typ`` header every proof carries (section 4.2)."""

DPOP_ALGORITHMS: tuple[str, ...] = ("ES256", "ES384", "EdDSA", "Ed25519", "PS256", "RS256")
"""Asymmetric algorithms a proof may use; ``none`` and MACs never pass (section 4.3 item 5).
``Ed25519`` is the fully specified name of EdDSA over Ed25519 (RFC 9864)."""

# alg → (kty, crv or None for RSA, pyjwt's name of the algorithm that verifies it)
_KEY_SHAPES: Mapping[str, tuple[str, str | None, str]] = {
    "ES256": ("EC", "P-256", "ES256"),
    "ES384": ("EC", "P-384", "ES384"),
    "EdDSA": ("OKP", "Ed25519", "EdDSA"),
    "Ed25519": ("OKP", "Ed25519", "EdDSA"),
    "PS256": ("RSA", None, "PS256"),
    "RS256": ("RSA", None, "RS256"),
}
_VERIFIERS = jwt.algorithms.get_default_algorithms()
_THUMBPRINT_MEMBERS: Mapping[str, tuple[str, ...]] = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_MIN_RSA_BITS = 2048
_MAX_PROOF_CHARS = 8192
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 9449 section 7.1: the DPoP authorization scheme (case-insensitive) and a b64token.
_DPOP_AUTHORIZATION = re.compile(r"[Dd][Pp][Oo][Pp] +([A-Za-z0-9\-._~+/]+=*) *")

INVALID_DPOP_PROOF = "invalid_dpop_proof"
"""The error code of a proof that does not pass (RFC 9449 section 12.2)."""
USE_DPOP_NONCE = "use_dpop_nonce"
"""The error code of a proof without the server's current nonce (section 8 and 9)."""
INVALID_TOKEN = "invalid_token"
"""The error code of a token that is invalid, or not bound to a key (RFC 6750 section 3.1)."""
NONCE_HEADER = "DPoP-Nonce"
"""The HTTP header that hands a client the nonce its next proof must carry (section 8)."""


class DpopError(Exception):
    """A proof that does not pass; ``error`` is the RFC 9449 error code to answer with.

    ``use_dpop_nonce`` means the proof lacked the server's current nonce (section 8); every
    other failure is ``invalid_dpop_proof``."""

    def __init__(self, detail: str, error: str = INVALID_DPOP_PROOF) -> None:
        self.error = error
        super().__init__(detail)


@dataclass(frozen=True)
class HttpProof:
    """A DPoP proof with the HTTP request it came with, as a door hands it on."""

    proof: str
    """The value of the request's ``DPoP`` header ('' without one)."""
    method: str
    """The request's method, e.g. ``POST``."""
    uri: str
    """The request's absolute URI (its query and fragment are not compared)."""


@dataclass(frozen=True)
class VerifiedProof:
    """What a valid proof establishes."""

    jkt: str
    """RFC 7638 SHA-256 thumbprint of the proof's key, base64url."""
    jti: str
    """The proof's unique id: the caller's replay cache must not have seen it."""
    iat: int
    """When the client made the proof (seconds since the epoch)."""


def b64url_decode(segment: str) -> bytes:
    """Decodes unpadded base64url strictly, raising ValueError on any other spelling."""
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise ValueError("not canonical base64url")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except binascii.Error as e:
        raise ValueError("not canonical base64url") from e
    # Unused low bits of the last character must be zero: one value, one spelling.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != segment:
        raise ValueError("not canonical base64url")
    return raw


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK (EC, OKP or RSA), base64url."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None or not all(isinstance(jwk.get(m), str) for m in members):
        raise DpopError("the proof's jwk is not an EC, OKP or RSA public key")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def access_token_hash(access_token: str) -> str:
    """The ``ath`` a proof carries for an access token: base64url SHA-256 of its ASCII."""
    return _b64url(hashlib.sha256(access_token.encode("ascii")).digest())


def normalize_htu(uri: str) -> str:
    """The URI as proofs are compared (section 4.3): no query or fragment, scheme and
    host in lower case, the scheme's default port dropped, an empty path as ``/``.

    Raises DpopError for something that is not an absolute http(s) URI."""
    try:
        parts = urlsplit(uri.strip())
        port = parts.port
    except ValueError as e:
        raise DpopError("htu is not a valid URI") from e
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        raise DpopError("htu is not an absolute http(s) URI")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def _decode_segment(segment: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(segment))
    except (ValueError, UnicodeDecodeError) as e:
        raise DpopError(f"the proof's {what} is not base64url JSON") from e
    if not isinstance(value, dict):
        raise DpopError(f"the proof's {what} is not a JSON object")
    return value


def _verify_signature(header: Mapping[str, Any], signing_input: bytes, signature: bytes) -> dict[str, Any]:
    """Checks the signature with the header's own key; returns that key's JWK."""
    alg = str(header.get("alg"))
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise DpopError("the proof carries no jwk")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise DpopError("the proof's jwk contains private key material")
    kty, crv, verifier_name = _KEY_SHAPES[alg]
    if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
        raise DpopError(f"the proof's jwk does not fit alg {alg}")
    verifier = _VERIFIERS[verifier_name]
    try:
        key = verifier.from_jwk(jwk)
    except (PyJWTError, InvalidKeyError, ValueError, TypeError, KeyError) as e:
        raise DpopError("the proof's jwk is not a valid public key") from e
    if kty == "RSA" and key.key_size < _MIN_RSA_BITS:
        raise DpopError("the proof's RSA key is shorter than 2048 bits")
    try:
        valid = verifier.verify(signing_input, key, signature)
    except (PyJWTError, ValueError, TypeError) as e:
        raise DpopError("the proof's signature does not verify") from e
    if not valid:
        raise DpopError("the proof's signature does not verify")
    return jwk


def verify_proof(
    proof: str,
    *,
    method: str,
    uri: str,
    now: float,
    max_age_s: float = 60.0,
    leeway_s: float = 5.0,
    access_token: str | None = None,
    jkt: str | None = None,
    nonce_valid: Callable[[str], bool] | None = None,
    algorithms: tuple[str, ...] = DPOP_ALGORITHMS,
) -> VerifiedProof:
    """Checks ``proof`` for the request ``method`` ``uri`` at ``now`` (section 4.3 items 2 to 12).

    ``access_token``: the token presented with the proof, whose hash ``ath`` must be;
    ``jkt``: the thumbprint the token or session is bound to, which the proof's key must
    have; ``nonce_valid``: when given, the proof must carry a ``nonce`` it accepts
    (else ``use_dpop_nonce``). ``iat`` may lie up to ``max_age_s`` in the past and
    ``leeway_s`` in the future. Replay (``jti``) is the caller's to check.

    Raises DpopError."""
    if not proof or len(proof) > _MAX_PROOF_CHARS:
        raise DpopError("the proof is empty or too long")
    segments = proof.split(".")
    if len(segments) != 3:
        raise DpopError("the proof is not a compact JWS")
    try:
        signature = b64url_decode(segments[2])
    except ValueError as e:
        raise DpopError("the proof's signature is not base64url") from e
    header = _decode_segment(segments[0], "header")
    payload = _decode_segment(segments[1], "payload")
    if header.get("typ") != PROOF_TYPE:
        raise DpopError("the proof's typ is not dpop+jwt")
    if header.get("alg") not in algorithms or header.get("alg") not in _KEY_SHAPES:
        raise DpopError("the proof's alg is not an allowed asymmetric algorithm")
    if "crit" in header:
        raise DpopError("the proof names critical extensions")
    jwk = _verify_signature(header, f"{segments[0]}.{segments[1]}".encode("ascii"), signature)

    jti, htm, htu, iat = payload.get("jti"), payload.get("htm"), payload.get("htu"), payload.get("iat")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise DpopError("the proof has no valid jti")
    if not isinstance(htm, str) or not isinstance(htu, str):
        raise DpopError("the proof has no htm or htu")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise DpopError("the proof has no numeric iat")
    if htm != method:
        raise DpopError("the proof's htm is not the request's method")
    if normalize_htu(htu) != normalize_htu(uri):
        raise DpopError("the proof's htu is not the request's URI")
    if iat > now + leeway_s or iat < now - max_age_s - leeway_s:
        raise DpopError("the proof's iat is outside the accepted window")
    if nonce_valid is not None:
        nonce = payload.get("nonce")
        if not isinstance(nonce, str) or not nonce_valid(nonce):
            raise DpopError("the proof lacks the server's current nonce", USE_DPOP_NONCE)
    if access_token is not None:
        ath = payload.get("ath")
        if not isinstance(ath, str) or not hmac.compare_digest(ath, access_token_hash(access_token)):
            raise DpopError("the proof's ath is not the access token's hash")
    thumbprint = jwk_thumbprint(jwk)
    if jkt is not None and not hmac.compare_digest(thumbprint, jkt):
        raise DpopError("the proof is signed by another key than the token is bound to")
    return VerifiedProof(jkt=thumbprint, jti=jti, iat=int(iat))


def replay_window_s(max_age_s: float, leeway_s: float) -> float:
    """How long a proof's ``jti`` must be remembered: as long as :func:`verify_proof` with
    these bounds still accepts the proof (``iat`` up to ``leeway_s`` ahead, then
    ``max_age_s`` and ``leeway_s`` behind)."""
    return max_age_s + 2 * leeway_s


def dpop_token(authorization: str | None) -> str | None:
    """The access token of an ``Authorization: DPoP <token>`` header (section 7.1), or
    None for another scheme or a malformed value."""
    match = _DPOP_AUTHORIZATION.fullmatch(authorization or "")
    return match.group(1) if match else None


def challenge(error: str = "", algorithms: tuple[str, ...] = DPOP_ALGORITHMS, description: str = "") -> str:
    """A ``WWW-Authenticate: DPoP`` challenge (section 7.1): the error code (none for a
    request without credentials), an optional description and the accepted ``algs``."""
    params = [f'error="{error}"'] if error else []
    if description:
        params.append(f'error_description="{description}"')
    params.append(f'algs="{" ".join(algorithms)}"')
    return "DPoP " + ", ".join(params)


class SeenProofs:
    """An in-process ``jti`` replay cache: proofs seen within their acceptance window.

    For one process (the Python Verifier); the server keeps its cache in Redis, shared by
    its replicas. At most ``max_entries`` are remembered, the least recently seen going
    first: only holders of a bound token's key can make proofs that get this far, so a
    flood can only push out their own. Times are seconds, as ``verify_proof``'s ``now``."""

    def __init__(self, max_entries: int, window_s: float) -> None:
        """``window_s``: how long a proof stays acceptable (:func:`replay_window_s`)."""
        self._seen: VerifiedTokenCache[bool] = VerifiedTokenCache(max_entries)
        self._window = window_s

    def __len__(self) -> int:
        return len(self._seen)

    def first_use(self, proof: VerifiedProof, now: float) -> bool:
        """Records the proof; False when its ``jti`` (for its key) was seen in the window."""
        digest = VerifiedTokenCache.digest(f"{proof.jkt} {proof.jti}")
        if self._seen.get(digest, now):
            return False
        self._seen.put(digest, True, now + self._window)
        return True
