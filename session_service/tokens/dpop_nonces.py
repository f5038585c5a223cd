"""Stateless DPoP server nonces (RFC 9449 section 8).

A nonce is a MAC of a time bucket: any replica that holds the same key recognises the
nonces of every other one, and nothing is stored. A nonce is accepted during its own
bucket and the next one, so a client whose nonce turned old mid-request gets one retry's
worth of time. The key is derived from the access-token signing key (which every
replica of a deployment shares) under a label of its own, so the MAC can never be
confused with anything else made from that key; with a generated development key it
lives and dies with the process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from session_service.tokens.keyring import Keyring

__all__ = ["DERIVATION_LABEL", "StatelessNonces"]

DERIVATION_LABEL = b"session-service/dpop-nonce/v1"
"""What the nonce key is derived for; no other key derived from the signing key uses it."""
_NONCE_BYTES = 16


class StatelessNonces:
    """Implements :class:`~session_service.domain.dpop.DpopNonces` with an HMAC per bucket."""

    def __init__(self, key: bytes, bucket_s: float) -> None:
        """``bucket_s``: how long one nonce is handed out (it stays valid one bucket more)."""
        self._key = key
        self._bucket_ms = max(1, int(bucket_s * 1000))

    @classmethod
    def from_keyring(cls, keyring: Keyring, bucket_s: float) -> StatelessNonces:
        """Nonces under a key derived from the keyring's signing key."""
        private = keyring.signer.private
        assert private is not None  # a Keyring's signer always has its private part
        secret = private.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
        return cls(hmac.digest(hashlib.sha256(secret).digest(), DERIVATION_LABEL, "sha256"), bucket_s)

    def _nonce(self, bucket: int) -> str:
        mac = hmac.digest(self._key, bucket.to_bytes(8, "big", signed=True), "sha256")[:_NONCE_BYTES]
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def current(self, now_ms: int) -> str:
        """The nonce of the current bucket."""
        return self._nonce(now_ms // self._bucket_ms)

    def valid(self, nonce: str, now_ms: int) -> bool:
        """Whether ``nonce`` is the current bucket's or the previous one's."""
        bucket = now_ms // self._bucket_ms
        return any(hmac.compare_digest(nonce, self._nonce(b)) for b in (bucket, bucket - 1))
