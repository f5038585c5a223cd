"""Stateless DPoP server nonces: a MAC of a time bucket, shared by replicas with one key."""

from __future__ import annotations

import pytest

from session_service.tokens.dpop_nonces import StatelessNonces
from session_service.tokens.keyring import Keyring

pytestmark = pytest.mark.unit


def test_a_nonce_is_valid_in_its_bucket_and_the_next_then_never_again() -> None:
    nonces = StatelessNonces(b"k" * 32, bucket_s=60)
    start = 60_000 * 1000  # a bucket begins
    issued = nonces.current(start)
    assert nonces.current(start + 59_999) == issued
    assert nonces.valid(issued, start + 119_999)
    assert not nonces.valid(issued, start + 120_000)
    assert not nonces.valid("made-up", start)


def test_replicas_with_the_same_signing_key_share_nonces_and_others_do_not() -> None:
    keyring = Keyring.generate("ES256")
    one, two = StatelessNonces.from_keyring(keyring, 60), StatelessNonces.from_keyring(keyring, 60)
    other = StatelessNonces.from_keyring(Keyring.generate("ES256"), 60)
    assert two.valid(one.current(5_000), 5_000)
    assert not other.valid(one.current(5_000), 5_000)
