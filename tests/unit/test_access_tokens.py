"""Access-token verification refuses every classic JWT attack (RFC 8725)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from session_service.domain.model import ClientInfo, Session
from session_service.errors import KeyringError
from session_service.tokens.access import JwtCodec
from session_service.tokens.keyring import Keyring, new_private_key

NOW_MS = int(time.time() * 1000)


def _session(absolute_expires_at_ms: int = NOW_MS + 7_200_000) -> Session:
    return Session(
        session_id="K9gGyX8OAK8aH8My.U3Qvk7HrP_UuuNvAFcAIug",
        user_id="alice",
        created_at_ms=NOW_MS,
        last_active_at_ms=NOW_MS,
        idle_expires_at_ms=NOW_MS + 3_600_000,
        absolute_expires_at_ms=absolute_expires_at_ms,
        version=1,
        data={},
        claims={"tenant": "t1"},
        scopes=("read",),
        client=ClientInfo(),
        client_id="web",
    )


@pytest.fixture(scope="module", params=["EdDSA", "ES256", "RS256"])
def codec(request: pytest.FixtureRequest) -> JwtCodec:
    return JwtCodec(Keyring.generate(request.param), "iss-a", "aud-a", 900, 5)


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return claims


def test_issued_token_verifies_with_all_claims(codec: JwtCodec) -> None:
    token, exp = codec.issue(_session(), NOW_MS)
    claims = codec.verify(token)
    assert claims is not None
    assert (claims.sub, claims.sid, claims.scope, claims.client_id) == (
        "alice",
        "K9gGyX8OAK8aH8My.U3Qvk7HrP_UuuNvAFcAIug",
        "read",
        "web",
    )
    assert claims.exp == exp == NOW_MS // 1000 + 900 and claims.iat == claims.nbf == NOW_MS // 1000
    assert _claims(token)["tenant"] == "t1"


def test_token_never_outlives_the_session(codec: JwtCodec) -> None:
    _, exp = codec.issue(_session(absolute_expires_at_ms=NOW_MS + 60_000), NOW_MS)
    assert exp == (NOW_MS + 60_000) // 1000


def test_alg_none_is_rejected(codec: JwtCodec) -> None:
    token, _ = codec.issue(_session(), NOW_MS)
    header = jwt.get_unverified_header(token)
    forged = f"{_b64({**header, 'alg': 'none'})}.{token.split('.')[1]}."
    assert codec.verify(forged) is None


def test_hs256_signed_with_the_public_key_is_rejected(codec: JwtCodec) -> None:
    token, _ = codec.issue(_session(), NOW_MS)
    kid = jwt.get_unverified_header(token)["kid"]
    public = codec._keyring.signer.public
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    # The classic key-confusion attack: the public key (known to all) used as an HMAC secret.
    for secret in (pem, codec.jwks_json().encode()):
        signing_input = f"{_b64({'alg': 'HS256', 'kid': kid, 'typ': 'at+jwt'})}.{token.split('.')[1]}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
        assert codec.verify(forged) is None


def test_unknown_kid_is_rejected(codec: JwtCodec) -> None:
    other = JwtCodec(Keyring.generate("EdDSA"), "iss-a", "aud-a", 900, 5)
    token, _ = other.issue(_session(), NOW_MS)
    assert codec.verify(token) is None


def test_tampered_payload_is_rejected(codec: JwtCodec) -> None:
    token, _ = codec.issue(_session(), NOW_MS)
    head, _, sig = token.split(".")
    forged = f"{head}.{_b64({**_claims(token), 'sub': 'mallory'})}.{sig}"
    assert codec.verify(forged) is None


def test_expired_token_is_rejected(codec: JwtCodec) -> None:
    token, _ = codec.issue(_session(), NOW_MS - 3_600_000)
    assert codec.verify(token) is None


def test_not_yet_valid_token_is_rejected(codec: JwtCodec) -> None:
    token, _ = codec.issue(_session(), NOW_MS + 600_000)
    assert codec.verify(token) is None


def test_wrong_issuer_or_audience_is_rejected(codec: JwtCodec) -> None:
    keyring = codec._keyring
    for issuer, audience in (("iss-b", "aud-a"), ("iss-a", "aud-b")):
        token, _ = JwtCodec(keyring, issuer, audience, 900, 5).issue(_session(), NOW_MS)
        assert codec.verify(token) is None


def test_missing_sid_or_wrong_typ_is_rejected(codec: JwtCodec) -> None:
    signer = codec._keyring.signer
    assert signer.private is not None
    claims = _claims(codec.issue(_session(), NOW_MS)[0])
    del claims["sid"]
    no_sid = jwt.encode(
        claims, signer.private, algorithm=signer.algorithm, headers={"kid": signer.kid, "typ": "at+jwt"}
    )
    assert codec.verify(no_sid) is None
    claims["sid"] = "x.y"
    id_token = jwt.encode(claims, signer.private, algorithm=signer.algorithm, headers={"kid": signer.kid})
    assert codec.verify(id_token) is None


def test_small_clock_skew_is_tolerated(codec: JwtCodec) -> None:
    token, _ = codec.issue(_session(), NOW_MS + 3_000)
    assert codec.verify(token) is not None


def _write(folder: Path, kid: str, algorithm: str, private: bool = True) -> None:
    key = new_private_key(algorithm)
    pem = (
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        if private
        else key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (folder / f"{kid}.pem").write_bytes(pem)


def test_keyring_from_folder_signs_with_chosen_key_and_verifies_with_all(tmp_path: Path) -> None:
    _write(tmp_path, "old", "ES256")
    _write(tmp_path, "new", "EdDSA")
    _write(tmp_path, "next", "RS256", private=False)
    old = JwtCodec(Keyring.from_dir(tmp_path, "old"), "i", "a", 900, 5)
    new = JwtCodec(Keyring.from_dir(tmp_path, "new"), "i", "a", 900, 5)
    old_token, _ = old.issue(_session(), NOW_MS)
    assert jwt.get_unverified_header(old_token)["kid"] == "old"
    # During rotation the new signer still accepts tokens of the old key.
    assert new.verify(old_token) is not None
    kids = {k["kid"]: k["alg"] for k in json.loads(new.jwks_json())["keys"]}
    assert kids == {"old": "ES256", "new": "EdDSA", "next": "RS256"}


def test_keyring_refuses_ambiguous_or_unsuitable_keys(tmp_path: Path) -> None:
    _write(tmp_path, "a", "EdDSA")
    _write(tmp_path, "b", "EdDSA")
    with pytest.raises(KeyringError, match="SESSION_SIGNING_KEY_ID"):
        Keyring.from_dir(tmp_path)
    with pytest.raises(KeyringError, match="no private key"):
        Keyring.from_dir(tmp_path, "missing")
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(KeyringError, match=r"junk\.pem"):
        Keyring.from_dir(tmp_path, "a")
    only_public = tmp_path / "pub"
    only_public.mkdir()
    _write(only_public, "p", "EdDSA", private=False)
    with pytest.raises(KeyringError, match="0 private keys"):
        Keyring.from_dir(only_public)
