"""DPoP proof checks (RFC 9449 section 4.3), with proofs made by libraries we did not write:
joserfc (Python) and panva's ``dpop`` (Node.js)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jws
from joserfc.jwk import ECKey, OctKey
from session_wire.dpop import (
    DpopError,
    access_token_hash,
    b64url_decode,
    jwk_thumbprint,
    normalize_htu,
    verify_proof,
)

from tests.dpop_proofs import make_proof as _proof
from tests.dpop_proofs import new_key as _key
from tests.dpop_proofs import panva_proofs

pytestmark = pytest.mark.unit

URI = "https://login.example.com/token"


@pytest.mark.parametrize("alg", ["ES256", "ES384", "EdDSA", "RS256", "PS256"])
def test_a_proof_by_joserfc_verifies_and_yields_the_keys_rfc7638_thumbprint(alg: str) -> None:
    key = _key(alg)
    verified = verify_proof(_proof(key, alg), method="POST", uri=URI, now=time.time())
    assert verified.jkt == key.thumbprint()  # joserfc computes the thumbprint independently
    assert verified.jkt == jwk_thumbprint(key.as_dict(private=False))


@pytest.mark.parametrize("alg", ["ES256", "Ed25519", "RS256", "PS256"])
def test_proofs_by_panvas_dpop_package_verify_with_nonce_and_ath(alg: str) -> None:
    request = {"htm": "GET", "htu": "https://api.example.com/orders?x=1", "nonce": "n-1"}
    jwk, (proof,), _ = panva_proofs([{**request, "ath_token": "the-access-token"}], alg=alg)
    item_uri = "https://api.example.com/orders"
    verified = verify_proof(
        proof,
        method="GET",
        uri=item_uri,
        now=time.time(),
        access_token="the-access-token",
        jkt=jwk_thumbprint(jwk),
        nonce_valid=lambda n: n == "n-1",
    )
    assert verified.jkt == jwk_thumbprint(jwk)
    with pytest.raises(DpopError) as e:
        verify_proof(proof, method="GET", uri=item_uri, now=time.time(), access_token="other")
    assert "ath" in str(e.value)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _sign_es256_raw(key: ECKey, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """A proof signed with ECDSA-SHA256 by hand, for headers joserfc refuses to sign."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    der = key.private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr]
    r, s = decode_dss_signature(der)
    size = (key.private_key.curve.key_size + 7) // 8  # type: ignore[union-attr]
    return f"{signing_input}.{_b64(r.to_bytes(size, 'big') + s.to_bytes(size, 'big'))}"


def _claims() -> dict[str, Any]:
    return {"jti": str(uuid.uuid4()), "htm": "POST", "htu": URI, "iat": int(time.time())}


def _refused(proof: str, **kwargs: Any) -> DpopError:
    args: dict[str, Any] = {"method": "POST", "uri": URI, "now": time.time(), **kwargs}
    with pytest.raises(DpopError) as e:
        verify_proof(proof, **args)
    return e.value


def test_wrong_method_uri_key_and_token_hash_are_refused() -> None:
    key, other = _key("ES256"), _key("ES256")
    proof = _proof(key, claims={"ath": access_token_hash("tok")})
    assert "htm" in str(_refused(proof, method="GET"))
    assert "htu" in str(_refused(proof, uri="https://login.example.com/other"))
    assert "htu" in str(_refused(proof, uri="https://evil.example.com/token"))
    assert "another key" in str(_refused(proof, access_token="tok", jkt=other.thumbprint()))
    assert "ath" in str(_refused(proof, access_token="another token"))
    assert verify_proof(
        proof, method="POST", uri=URI, now=time.time(), access_token="tok", jkt=key.thumbprint()
    )


def test_stale_and_future_iat_are_refused() -> None:
    key = _key("EdDSA")
    now = time.time()
    assert "iat" in str(_refused(_proof(key, "EdDSA", iat=now - 300), now=now))
    assert "iat" in str(_refused(_proof(key, "EdDSA", iat=now + 60), now=now))
    assert verify_proof(_proof(key, "EdDSA", iat=now - 30), method="POST", uri=URI, now=now)


def test_alg_none_hmac_and_a_private_or_mismatched_jwk_are_refused() -> None:
    key = _key("ES256")
    header = base64.urlsafe_b64encode(
        json.dumps({"typ": "dpop+jwt", "alg": "none", "jwk": key.as_dict(private=False)}).encode()
    )
    body = base64.urlsafe_b64encode(
        json.dumps({"jti": "a", "htm": "POST", "htu": URI, "iat": int(time.time())}).encode()
    )
    unsigned = f"{header.decode().rstrip('=')}.{body.decode().rstrip('=')}."
    assert "alg" in str(_refused(unsigned))

    secret = OctKey.generate_key(256)
    hs = jws.serialize_compact(
        {"typ": "dpop+jwt", "alg": "HS256", "jwk": secret.as_dict(private=False)},
        json.dumps(_claims()).encode(),
        secret,
        algorithms=["HS256"],
    )
    assert "alg" in str(_refused(hs))

    private = _proof(key, header={"jwk": key.as_dict(private=True)})
    assert "private" in str(_refused(private))
    p384 = _key("ES384")
    assert isinstance(p384, ECKey)
    mismatched = {"typ": "dpop+jwt", "alg": "ES256", "jwk": p384.as_dict(private=False)}
    assert "does not fit" in str(_refused(_sign_es256_raw(p384, mismatched, _claims())))


def test_typ_and_required_claims_are_enforced() -> None:
    key = _key("ES256")
    assert "typ" in str(_refused(_proof(key, header={"typ": "JWT"})))
    assert "jti" in str(_refused(_proof(key, claims={"jti": ""})))
    assert "iat" in str(_refused(_proof(key, claims={"iat": "now"})))
    assert isinstance(key, ECKey)
    crit = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False), "crit": ["x"], "x": 1}
    assert "critical" in str(_refused(_sign_es256_raw(key, crit, _claims())))
    plain = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    assert verify_proof(_sign_es256_raw(key, plain, _claims()), method="POST", uri=URI, now=time.time())


def test_a_key_swapped_into_the_header_breaks_the_signature() -> None:
    key, thief = _key("ES256"), _key("ES256")
    proof = _proof(key)
    _, body, sig = proof.split(".")
    swapped_header = (
        base64.urlsafe_b64encode(
            json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": thief.as_dict(private=False)}).encode()
        )
        .decode()
        .rstrip("=")
    )
    assert "signature" in str(_refused(f"{swapped_header}.{body}.{sig}"))


def test_nonce_required_answers_use_dpop_nonce() -> None:
    key = _key("ES256")
    error = _refused(_proof(key), nonce_valid=lambda n: n == "fresh")
    assert error.error == "use_dpop_nonce"
    error = _refused(_proof(key, claims={"nonce": "stale"}), nonce_valid=lambda n: n == "fresh")
    assert error.error == "use_dpop_nonce"
    proof = _proof(key, claims={"nonce": "fresh"})
    assert verify_proof(proof, method="POST", uri=URI, now=time.time(), nonce_valid=lambda n: n == "fresh")


def test_non_canonical_base64url_spellings_of_a_valid_proof_are_refused() -> None:
    proof = _proof(_key("ES256"))
    head, body, sig = proof.split(".")
    for bad in (
        f"{proof}~~~~",
        f"{proof}=",
        f"{head}.{body}=.{sig}",
        f"{head}.{body}.{sig[:-1]}+",
        proof + "\n",
    ):
        assert isinstance(_refused(bad), DpopError)
    # The last character of a 64-byte ES256 signature carries 4 unused bits: flip one.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(sig[-1])
    twin = f"{head}.{body}.{sig[:-1]}{alphabet[last ^ 1]}"
    assert b64url_decode(sig) and isinstance(_refused(twin), DpopError)
    for spelling in ("YQ==", "YR", "Y", "a+b/"):
        with pytest.raises(ValueError):
            b64url_decode(spelling)
    assert b64url_decode("YQ") == b"a"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://Login.Example.COM/token", "https://login.example.com/token"),
        ("https://login.example.com:443/token?x=1#f", "https://login.example.com/token"),
        ("http://h:80", "http://h/"),
        ("http://[::1]:8080/a", "http://[::1]:8080/a"),
    ],
)
def test_htu_is_compared_without_query_fragment_case_and_default_port(a: str, b: str) -> None:
    assert normalize_htu(a) == normalize_htu(b)


@pytest.mark.parametrize("uri", ["", "/token", "ftp://h/x", "https://", "https://h:99999/"])
def test_htu_that_is_not_an_absolute_http_uri_is_refused(uri: str) -> None:
    with pytest.raises(DpopError):
        normalize_htu(uri)
