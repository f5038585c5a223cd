"""Signing and verification keys for access tokens.

Keys come from a folder of ``<kid>.pem`` files (a Kubernetes Secret mount): a
private key can sign and verify, a public key only verifies (used while rotating
keys). The algorithm is fixed by each key's type, never taken from a token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from session_service.errors import KeyringError

log = logging.getLogger(__name__)

_KID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_MIN_RSA_BITS = 2048

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey


@dataclass(frozen=True)
class Key:
    """One key of the ring."""

    kid: str
    """The key id, put in the ``kid`` header of tokens it signs."""
    algorithm: str
    """The only JWS algorithm this key is used with."""
    public: PublicKey
    """Verifies signatures."""
    private: PrivateKey | None
    """Signs; None for a verify-only key."""

    def jwk(self) -> dict[str, Any]:
        """The public key as an RFC 7517 JWK with kid, use and alg."""
        body: dict[str, Any] = jwt.get_algorithm_by_name(self.algorithm).to_jwk(self.public, as_dict=True)
        return {**body, "kid": self.kid, "use": "sig", "alg": self.algorithm}


class Keyring:
    """One signing key plus any number of verify-only keys."""

    def __init__(self, signer: Key, verifiers: dict[str, Key]) -> None:
        if signer.private is None:
            raise KeyringError(f"signing key {signer.kid!r} has no private part")
        self.signer = signer
        self.keys = {**verifiers, signer.kid: signer}
        self._jwks_json = json.dumps({"keys": [k.jwk() for k in self.keys.values()]}, sort_keys=True)

    def find(self, kid: str) -> Key | None:
        """The key with this id, if the ring has it."""
        return self.keys.get(kid)

    def jwks_json(self) -> str:
        """All public keys as a JWK Set."""
        return self._jwks_json

    @classmethod
    def from_dir(cls, folder: Path, signing_kid: str = "") -> Keyring:
        """Loads every ``*.pem`` in ``folder``; ``signing_kid`` picks the signer among several."""
        if not folder.is_dir():
            raise KeyringError(f"{folder} is not a folder")
        keys: dict[str, Key] = {}
        for path in sorted(folder.glob("*.pem")):
            kid = path.stem
            if not _KID.fullmatch(kid):
                raise KeyringError(f"{path.name}: the file name (the kid) must match {_KID.pattern}")
            keys[kid] = _load(path, kid)
        signers = [k for k in keys.values() if k.private is not None]
        if signing_kid:
            chosen = keys.get(signing_kid)
            if chosen is None or chosen.private is None:
                raise KeyringError(f"no private key {signing_kid}.pem in {folder}")
        elif len(signers) == 1:
            chosen = signers[0]
        else:
            raise KeyringError(
                f"{folder} has {len(signers)} private keys; set SESSION_SIGNING_KEY_ID to choose one"
            )
        return cls(chosen, keys)

    @classmethod
    def generate(cls, algorithm: str) -> Keyring:
        """A fresh key kept only in memory: tokens die with the process. Development only."""
        private = new_private_key(algorithm)
        key = Key("", algorithm, private.public_key(), private)
        key = Key(_thumbprint(key.jwk()), algorithm, key.public, private)
        log.warning(
            "no SESSION_KEYS_DIR set: generated a throwaway %s signing key (kid %s); "
            "tokens will not verify after a restart or on other replicas. Development only.",
            algorithm,
            key.kid,
        )
        return cls(key, {})


def new_private_key(algorithm: str) -> PrivateKey:
    """A new private key for one of the supported algorithms."""
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise KeyringError(f"unsupported algorithm {algorithm}")


def _load(path: Path, kid: str) -> Key:
    data = path.read_bytes()
    try:
        if b"PRIVATE KEY" in data:
            private = load_pem_private_key(data, password=None)
            if not isinstance(
                private, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
            ):
                raise KeyringError(f"{path.name}: unsupported key type")
            return Key(kid, _algorithm(private.public_key(), path), private.public_key(), private)
        public = load_pem_public_key(data)
    except (ValueError, TypeError) as e:
        raise KeyringError(f"{path.name}: not a PEM key ({e})") from e
    if not isinstance(public, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise KeyringError(f"{path.name}: unsupported key type")
    return Key(kid, _algorithm(public, path), public, None)


def _algorithm(public: PublicKey, path: Path) -> str:
    if isinstance(public, ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(public, ec.EllipticCurvePublicKey):
        if not isinstance(public.curve, ec.SECP256R1):
            raise KeyringError(f"{path.name}: EC keys must be on P-256 (ES256)")
        return "ES256"
    if public.key_size < _MIN_RSA_BITS:
        raise KeyringError(f"{path.name}: RSA keys must have at least {_MIN_RSA_BITS} bits")
    return "RS256"


def _thumbprint(jwk: dict[str, Any]) -> str:
    # RFC 7638: SHA-256 over the required members, sorted, without white space.
    required = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}
    members = {name: jwk[name] for name in required[jwk["kty"]]}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
