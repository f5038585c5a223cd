"""CallerTokenVerifier: bearer caller tokens verified against a JWK Set file."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from session_service.errors import CallerUnauthenticated, ConfigError
from session_service.security.caller import (
    AUDIENCE_SETTING,
    ISSUER_SETTING,
    JWKS_FILE_SETTING,
    CallerTokenVerifier,
    bearer_token,
)
from tests.certs import write_atomically
from tests.token_spellings import respellable, respellings

ISSUER = "https://kubernetes.default.svc.cluster.local"
AUDIENCE = "session-service"
SUBJECT = "system:serviceaccount:shop:login"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
ALGORITHM = {
    rsa.RSAPrivateKey: "RS256",
    ec.EllipticCurvePrivateKey: "ES256",
    ed25519.Ed25519PrivateKey: "EdDSA",
}


def algorithm_of(key: PrivateKey) -> str:
    return next(alg for kind, alg in ALGORITHM.items() if isinstance(key, kind))


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def public_jwk(key: PrivateKey, kid: str | None, *, with_alg: bool = True) -> dict[str, Any]:
    algorithm = algorithm_of(key)
    jwk: dict[str, Any] = jwt.get_algorithm_by_name(algorithm).to_jwk(key.public_key(), as_dict=True)
    if kid is not None:
        jwk["kid"] = kid
    if with_alg:
        jwk["alg"] = algorithm
    return jwk


def write_jwks(path: Path, *jwks: Mapping[str, Any]) -> Path:
    return write_atomically(path, json.dumps({"keys": list(jwks)}).encode())


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": SUBJECT, "iat": now, "exp": now + 600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: PrivateKey, kid: str | None, payload: Mapping[str, Any] | None = None, **header: Any) -> str:
    headers = {"kid": kid, **header} if kid is not None else header
    return jwt.encode(dict(payload or claims()), key, algorithm=algorithm_of(key), headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: Mapping[str, Any], payload: Mapping[str, Any], secret: bytes | None) -> str:
    """A token built by hand: HMAC-SHA256 with ``secret``, or no signature at all."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest() if secret else b""
    return f"{signing_input}.{b64(signature)}"


@pytest.fixture
def jwks_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> Path:
    return write_jwks(
        tmp_path / "jwks.json",
        public_jwk(rsa_key, "rsa-1"),
        public_jwk(ec_key, "ec-1", with_alg=False),
    )


@pytest.fixture
def verifier(jwks_file: Path) -> CallerTokenVerifier:
    return CallerTokenVerifier(jwks_file, issuer=ISSUER, audience=AUDIENCE)


def assert_refused(verifier: CallerTokenVerifier, token: str, reason: str) -> None:
    with pytest.raises(CallerUnauthenticated) as refused:
        verifier.verify(token)
    assert reason in refused.value.message
    assert token not in refused.value.message
    assert refused.value.__cause__ is None


def test_valid_token_identity_is_its_sub(verifier: CallerTokenVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    assert verifier.verify(sign(rsa_key, "rsa-1")) == SUBJECT


def test_algorithm_is_derived_from_a_jwk_without_alg(
    verifier: CallerTokenVerifier, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    assert verifier.verify(sign(ec_key, "ec-1")) == SUBJECT


def test_another_spelling_of_a_valid_caller_token_is_refused(
    verifier: CallerTokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    tokens = (sign(rsa_key, "rsa-1", claims(jti=str(i))) for i in range(100))
    token = next(t for t in tokens if respellable(t))
    assert verifier.verify(token) == SUBJECT
    for variant in respellings(token).values():
        assert_refused(verifier, variant, "malformed")


def test_eddsa_tokens_are_accepted(tmp_path: Path, ed_key: ed25519.Ed25519PrivateKey) -> None:
    path = write_jwks(tmp_path / "jwks.json", public_jwk(ed_key, "ed-1", with_alg=False))
    verifier = CallerTokenVerifier(path, issuer=ISSUER, audience=AUDIENCE)
    assert verifier.verify(sign(ed_key, "ed-1")) == SUBJECT


def test_token_for_another_audience_is_refused(
    verifier: CallerTokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    assert_refused(verifier, sign(rsa_key, "rsa-1", claims(aud="another-service")), "audience")


def test_token_from_another_issuer_is_refused(
    verifier: CallerTokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    assert_refused(verifier, sign(rsa_key, "rsa-1", claims(iss="https://evil.example")), "issuer")


def test_token_signed_by_another_key_is_refused(
    verifier: CallerTokenVerifier, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    assert_refused(verifier, sign(other_rsa_key, "rsa-1"), "signature")


def test_expired_token_is_refused(verifier: CallerTokenVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    now = int(time.time())
    assert_refused(verifier, sign(rsa_key, "rsa-1", claims(iat=now - 900, exp=now - 300)), "expired")


def test_token_expired_within_the_leeway_is_accepted(
    verifier: CallerTokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    now = int(time.time())
    assert verifier.verify(sign(rsa_key, "rsa-1", claims(iat=now - 600, exp=now - 5))) == SUBJECT


@pytest.mark.parametrize("claim", ["exp", "sub", "iss", "aud"])
def test_token_without_a_required_claim_is_refused(
    verifier: CallerTokenVerifier, rsa_key: rsa.RSAPrivateKey, claim: str
) -> None:
    with pytest.raises(CallerUnauthenticated):
        verifier.verify(sign(rsa_key, "rsa-1", claims(**{claim: None})))


def test_alg_none_is_refused(verifier: CallerTokenVerifier) -> None:
    token = unsigned({"alg": "none", "typ": "JWT", "kid": "rsa-1"}, claims(), None)
    assert_refused(verifier, token, "algorithm")


def test_hs256_with_the_public_key_as_secret_is_refused(
    verifier: CallerTokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    public_pem = rsa_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    token = unsigned({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims(), public_pem)
    assert_refused(verifier, token, "algorithm")


def test_algorithm_in_the_header_cannot_change_the_keys_algorithm(
    verifier: CallerTokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = jwt.encode(claims(), rsa_key, algorithm="RS512", headers={"kid": "rsa-1"})
    assert_refused(verifier, token, "algorithm")


def test_unknown_kid_is_refused(verifier: CallerTokenVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    assert_refused(verifier, sign(rsa_key, "rsa-9"), "unknown key")


def test_malformed_token_is_refused(verifier: CallerTokenVerifier) -> None:
    assert_refused(verifier, "not.a.jwt", "malformed")


def test_token_without_kid_uses_the_only_key(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    path = write_jwks(tmp_path / "single.json", public_jwk(rsa_key, None))
    verifier = CallerTokenVerifier(path, issuer=ISSUER, audience=AUDIENCE)
    assert verifier.verify(sign(rsa_key, None)) == SUBJECT


def test_token_without_kid_is_refused_when_several_keys_could_match(
    verifier: CallerTokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    assert_refused(verifier, sign(rsa_key, None), "no kid")


def test_identity_from_metadata_reads_the_bearer_token(
    verifier: CallerTokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = sign(rsa_key, "rsa-1")
    assert (
        verifier.identity_from_metadata([("x-request-id", "1"), ("authorization", f"Bearer {token}")])
        == SUBJECT
    )
    assert verifier.identity_from_metadata([("authorization", f"bearer {token}".encode())]) == SUBJECT
    assert verifier.identity_from_metadata([("x-request-id", "1")]) is None
    assert verifier.identity_from_metadata(None) is None


@pytest.mark.parametrize(
    "entries",
    [
        [("authorization", "Basic dXNlcjpwYXNz")],
        [("authorization", "Bearer ")],
        [("authorization", "Bearer a.b.c"), ("authorization", "Bearer d.e.f")],
    ],
)
def test_malformed_authorization_metadata_is_refused(entries: list[tuple[str, str | bytes]]) -> None:
    with pytest.raises(CallerUnauthenticated) as refused:
        bearer_token(entries)
    assert "dXNlcjpwYXNz" not in refused.value.message


def test_rotated_jwks_is_used_after_reload(
    verifier: CallerTokenVerifier,
    jwks_file: Path,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    old_token, new_token = sign(rsa_key, "rsa-1"), sign(other_rsa_key, "rsa-2")
    assert_refused(verifier, new_token, "unknown key")

    write_jwks(jwks_file, public_jwk(other_rsa_key, "rsa-2"))
    assert verifier.check() is True
    assert verifier.verify(new_token) == SUBJECT
    assert_refused(verifier, old_token, "unknown key")

    with caplog.at_level(logging.ERROR):
        write_atomically(jwks_file, b'{"keys": [')
        assert verifier.check() is False
    assert JWKS_FILE_SETTING in caplog.text
    assert verifier.verify(new_token) == SUBJECT


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"keys": {}}', "not a JWK Set"),
        (b'{"keys": [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldA", "kid": "h"}]}', "no RS256, ES256 or EdDSA"),
        (b'{"keys": [{"kty": "RSA", "alg": "ES256", "n": "AQAB", "e": "AQAB", "kid": "x"}]}', "no RS256"),
        (b'{"keys": [{"kty": "RSA", "n": "!!", "e": "AQAB", "kid": "x"}]}', "not a valid RS256 key"),
    ],
)
def test_invalid_jwks_at_start_is_a_config_error(tmp_path: Path, document: bytes, problem: str) -> None:
    path = write_atomically(tmp_path / "jwks.json", document)
    with pytest.raises(ConfigError) as raised:
        CallerTokenVerifier(path, issuer=ISSUER, audience=AUDIENCE)
    assert raised.value.setting == JWKS_FILE_SETTING
    assert problem in str(raised.value)
    assert "c2VjcmV0LXNlY3JldA" not in str(raised.value)


def test_private_keys_in_the_jwks_are_refused(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> None:
    private_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key))
    path = write_jwks(tmp_path / "jwks.json", {**private_jwk, "kid": "ec-1"})
    with pytest.raises(ConfigError) as raised:
        CallerTokenVerifier(path, issuer=ISSUER, audience=AUDIENCE)
    assert "private key" in str(raised.value)
    assert private_jwk["d"] not in str(raised.value)


def test_repeated_kid_is_a_config_error(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    path = write_jwks(tmp_path / "jwks.json", public_jwk(rsa_key, "k"), public_jwk(ec_key, "k"))
    with pytest.raises(ConfigError, match="same kid"):
        CallerTokenVerifier(path, issuer=ISSUER, audience=AUDIENCE)


@pytest.mark.parametrize(
    ("issuer", "audience", "setting"), [("", AUDIENCE, ISSUER_SETTING), (ISSUER, "", AUDIENCE_SETTING)]
)
def test_issuer_and_audience_are_required(jwks_file: Path, issuer: str, audience: str, setting: str) -> None:
    with pytest.raises(ConfigError) as raised:
        CallerTokenVerifier(jwks_file, issuer=issuer, audience=audience)
    assert raised.value.setting == setting


def test_a_remembered_token_is_refused_once_its_key_is_gone(
    verifier: CallerTokenVerifier,
    jwks_file: Path,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
) -> None:
    token = sign(rsa_key, "rsa-1")
    assert verifier.verify(token) == SUBJECT
    assert verifier.verify(token) == SUBJECT  # remembered: no second signature check
    write_jwks(jwks_file, public_jwk(other_rsa_key, "rsa-2"))
    assert verifier.check() is True
    assert_refused(verifier, token, "unknown key")


def test_a_remembered_token_is_refused_once_it_expires(jwks_file: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = CallerTokenVerifier(jwks_file, issuer=ISSUER, audience=AUDIENCE, leeway=0)
    token = sign(rsa_key, "rsa-1", claims(exp=int(time.time()) + 1))
    assert verifier.verify(token) == SUBJECT
    time.sleep(max(0.0, jwt.decode(token, options={"verify_signature": False})["exp"] - time.time()) + 0.05)
    assert_refused(verifier, token, "expired")
