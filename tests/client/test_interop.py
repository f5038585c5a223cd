"""Interoperability: an independent JOSE implementation (joserfc, not PyJWT) verifies our
access tokens against the JWKS the service publishes, for every algorithm we sign with."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from session_service.tokens.keyring import Keyring
from tests.client.conftest import ClientFactory
from tests.conftest import ServiceFactory


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256", "RS256"])
# RFC 9864 deprecates the polymorphic "EdDSA" name in favour of "Ed25519"; joserfc warns.
@pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")
async def test_joserfc_verifies_our_access_tokens_against_our_jwks(
    start_service: ServiceFactory, connect: ClientFactory, algorithm: str
) -> None:
    r = await start_service(keys=Keyring.generate(algorithm))
    client = await connect(r)
    created = await client.create("alice", scopes=["read"], claims={"tenant": "acme"})
    key_set = KeySet.import_key_set(await client.get_jwks())  # type: ignore[arg-type]

    token = jwt.decode(created.access_token, key_set, algorithms=[algorithm])
    assert token.header["alg"] == algorithm and token.header["typ"] == "at+jwt"
    jwt.JWTClaimsRegistry(
        now=int(time.time()),
        leeway=5,
        iss={"essential": True, "value": "session-service"},
        aud={"essential": True, "value": "internal"},
        sub={"essential": True, "value": "alice"},
        sid={"essential": True, "value": created.session.session_id},
        exp={"essential": True},
        iat={"essential": True},
        nbf={"essential": True},
        jti={"essential": True},
    ).validate(token.claims)
    assert token.claims["scope"] == "read" and token.claims["tenant"] == "acme"

    header, payload, signature = created.access_token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    with pytest.raises(BadSignatureError):
        jwt.decode(tampered, key_set, algorithms=[algorithm])
