"""Compact JWS (RFC 7515) parsing and signature checks for the Verifier, on `cryptography`.

PyJWT's general-purpose decode spends more time than the signature check itself; the
Verifier only ever needs one profile (a pinned ``typ``, the algorithm of the key named by
``kid``), so it parses the three segments itself and calls the key object directly, then
has PyJWT check the registered claims. Each failure raises the
:class:`~session_client.errors.TokenError` subclass of the check that failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidSignature as _BadSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from session_wire.b64url import b64url_decode as strict_b64url_decode

from session_client.errors import InvalidSignature, MalformedToken

SignatureCheck = Callable[[bytes, bytes], None]
"""Checks ``signature`` over ``signing_input``; raises InvalidSignature when it does not verify."""

_ES256_HALF = 32
"""Bytes of each of r and s in an ES256 signature (RFC 7518 section 3.4)."""


_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
"""The decoder's C scanner: one value from a position (json.loads adds a Python layer and
two regular-expression matches around it)."""


def b64url_decode(segment: bytes) -> bytes:
    """A base64url segment in its one canonical spelling (:mod:`session_wire.b64url`);
    MalformedToken when it is not one."""
    try:
        return strict_b64url_decode(segment)
    except ValueError as e:
        raise MalformedToken(f"invalid base64url segment: {e}") from e


def json_object(raw: bytes, what: str) -> dict[str, Any]:
    """A JSON object, or MalformedToken. Like json.loads, but only an object, with no
    whitespace around it (a JWS segment encodes exactly the JSON text its issuer wrote;
    ours writes it compact)."""
    try:
        text = raw.decode()
        value, end = _SCAN(text, 0)
    except StopIteration as e:  # no JSON value at the start
        raise MalformedToken(f"invalid {what}: not JSON") from e
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError included
        raise MalformedToken(f"invalid {what}: {e}") from e
    if end != len(text):
        raise MalformedToken(f"invalid {what}: data after the JSON value")
    if type(value) is not dict:
        raise MalformedToken(f"invalid {what}: must be a JSON object")
    return value


def signature_check(algorithm: str, key: Any) -> SignatureCheck | None:
    """The check of ``algorithm`` with this public key object, or None when they do not go together."""
    if algorithm == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey):
        return _ed25519(key)
    if (
        algorithm == "ES256"
        and isinstance(key, ec.EllipticCurvePublicKey)
        and isinstance(key.curve, ec.SECP256R1)
    ):
        return _es256(key)
    if algorithm == "RS256" and isinstance(key, rsa.RSAPublicKey):
        return _rs256(key)
    return None


def _ed25519(key: ed25519.Ed25519PublicKey) -> SignatureCheck:
    verify = key.verify

    def check(signature: bytes, signing_input: bytes) -> None:
        try:
            verify(signature, signing_input)
        except _BadSignature as e:
            raise InvalidSignature("Signature verification failed") from e

    return check


def _es256(key: ec.EllipticCurvePublicKey) -> SignatureCheck:
    verify, algorithm = key.verify, ec.ECDSA(hashes.SHA256())

    def check(signature: bytes, signing_input: bytes) -> None:
        # JWS carries r||s (RFC 7518 section 3.4); cryptography wants DER.
        if len(signature) != 2 * _ES256_HALF:
            raise InvalidSignature("Signature verification failed")
        r = int.from_bytes(signature[:_ES256_HALF], "big")
        s = int.from_bytes(signature[_ES256_HALF:], "big")
        try:
            verify(encode_dss_signature(r, s), signing_input, algorithm)
        except _BadSignature as e:
            raise InvalidSignature("Signature verification failed") from e

    return check


def _rs256(key: rsa.RSAPublicKey) -> SignatureCheck:
    verify, scheme, digest = key.verify, padding.PKCS1v15(), hashes.SHA256()

    def check(signature: bytes, signing_input: bytes) -> None:
        try:
            verify(signature, signing_input, scheme, digest)
        except _BadSignature as e:
            raise InvalidSignature("Signature verification failed") from e

    return check
