"""Signs Security Event Tokens (RFC 8417) with the service's signing key.

A SET is a JWS like an access token, told apart by its ``typ`` (``secevent+jwt``) and by
having ``events`` and no ``exp``; receivers verify it with the keys GetJwks (and the
signals door's ``/jwks.json``) publish.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jwt

from session_service.domain.security_events import SET_TYPE
from session_service.tokens.keyring import Keyring


class SecurityEventSigner:
    """Signs SETs with the keyring's current signing key."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    def sign(self, claims: Mapping[str, Any]) -> str:
        """The compact JWS of ``claims`` with ``typ: secevent+jwt`` and the signer's ``kid``."""
        signer = self._keyring.signer
        assert signer.private is not None  # the Keyring guarantees a private signer
        return jwt.encode(
            dict(claims),
            signer.private,
            algorithm=signer.algorithm,
            headers={"kid": signer.kid, "typ": SET_TYPE},
        )

    def jwks_json(self) -> str:
        """The public keys that verify the SETs, as a JWK Set."""
        return self._keyring.jwks_json()
