"""session_wire.delegation: certificate thumbprints in every spelling a proxy forwards,
act chains and may_act, as the server's doors and the client's Verifier read them."""

from __future__ import annotations

import base64
import urllib.parse

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from session_wire.delegation import (
    act_depth,
    certificate_matches,
    certificate_thumbprint,
    may_act_subject,
    nest_act,
)

from tests.certs import CertificateAuthority


def test_every_spelling_of_a_certificate_has_its_rfc8705_thumbprint() -> None:
    cert = CertificateAuthority().issue_client(uri="spiffe://x/sa/a").cert
    expected = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())).rstrip(b"=").decode()
    der = cert.public_bytes(Encoding.DER)
    pem = cert.public_bytes(Encoding.PEM)
    spellings = (
        der,
        pem,
        pem.decode(),
        urllib.parse.quote(pem.decode(), safe=""),  # nginx $ssl_client_escaped_cert, Envoy
        pem.decode().replace("\n", " "),  # PEM whose line breaks a proxy folded into spaces
        base64.b64encode(der).decode(),  # Caddy {http.request.tls.client.certificate_der_base64}
    )
    for spelling in spellings:
        assert certificate_thumbprint(spelling) == expected
    assert certificate_matches(expected, certificate_thumbprint(pem))


@pytest.mark.parametrize(
    "junk", ["", "garbage", "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----", b"\xff\x00"]
)
def test_what_is_not_one_certificate_has_no_thumbprint(junk: str | bytes) -> None:
    assert certificate_thumbprint(junk) is None


def test_a_chain_binds_nothing() -> None:
    ca = CertificateAuthority()
    chain = ca.issue_client(uri="spiffe://x/sa/a").cert_pem + ca.cert_pem
    assert certificate_thumbprint(chain) is None


def test_no_certificate_never_matches() -> None:
    assert not certificate_matches("abc", None)
    assert not certificate_matches("abc", "abd")


def test_act_chains_nest_the_newest_actor_outermost() -> None:
    first = nest_act("frontend", None)
    second = nest_act("orders", first)
    assert second == {"sub": "orders", "act": {"sub": "frontend"}}
    assert (act_depth(None), act_depth(first), act_depth(second)) == (0, 1, 2)
    assert act_depth({"sub": ""}) == -1
    assert act_depth({"sub": "a", "act": "b"}) == -1


def test_may_act_is_an_object_naming_one_actor() -> None:
    assert may_act_subject('{"sub": "orders"}') == "orders"
    assert may_act_subject({"sub": "orders"}) == "orders"
    for bad in ("orders", '{"sub": ""}', '{"sub": "a", "x": 1}', "[]", {"sub": 5}):
        assert may_act_subject(bad) is None
