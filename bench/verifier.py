"""Verifications per second of the client's local Verifier, next to the bare signature check.

For each algorithm a key can have (EdDSA, ES256, RS256) it signs ``--tokens`` distinct
access tokens with a fresh key, starts a Verifier on an in-process stand-in for the
service (GetJwks answers the key; the revocation stream has caught up and stays quiet),
and measures on one thread, in the same run:

- ``bare``: ``cryptography``'s own verify of those tokens' signatures (already decoded,
  and for ES256 already DER), the floor nothing built on that library can beat;
- ``first seen``: each token verified once by a fresh Verifier (signature and claims);
- ``seen``: the same tokens again (remembered: a digest, a look-up, the revocation check);
- ``pyjwt``: ``jwt.decode`` with the same checks, for comparison.

Prints verifications/s, and first seen / bare, per algorithm. Best of ``--repeat`` runs.
Run ``python bench/verifier.py`` (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from rpc_throughput import Target, targets_table
from session_client import Verifier
from session_wire.token_profile import REQUIRED_CLAIMS, SUPPORTED_ALGORITHMS
from session_wire.v1 import session_pb2 as pb

from session_service.tokens.keyring import Keyring

ISSUER, AUDIENCE = "session-service", "internal"
SEEN_TARGET = 200_000
"""Verifications per second the Verifier is held to for tokens seen before, per core."""
FIRST_SEEN_SHARE = 0.85
"""Share of the bare signature check's rate it asks for first-seen tokens."""


class StandIn:
    """The two calls a Verifier makes at start: the keys, and a caught-up, quiet stream."""

    def __init__(self, keyring: Keyring) -> None:
        self._jwks = json.loads(keyring.jwks_json())

    async def get_jwks(self) -> dict[str, Any]:
        return dict(self._jwks)

    async def watch_revocations(self, cursor: str) -> AsyncIterator[pb.WatchRevocationsResponse]:
        yield pb.WatchRevocationsResponse(caught_up=True, cursor="0-1")
        while True:
            await asyncio.sleep(0.5)
            yield pb.WatchRevocationsResponse(cursor="0-1")


def sign_tokens(keyring: Keyring, count: int) -> list[str]:
    """``count`` distinct access tokens of distinct sessions, valid for an hour."""
    key = keyring.signer
    assert key.private is not None
    now = int(time.time())
    headers = {"kid": key.kid, "typ": "at+jwt"}
    return [
        jwt.encode(
            {
                "iss": ISSUER,
                "aud": AUDIENCE,
                "sub": f"user-{i}",
                "sid": f"AAAAAAAAAAAAAAAA.{i:022d}",
                "jti": f"j{i}",
                "iat": now,
                "nbf": now,
                "exp": now + 3600,
                "scope": "openid profile",
                "client_id": "web",
            },
            key.private,
            algorithm=key.algorithm,
            headers=headers,
        )
        for i in range(count)
    ]


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def bare_checks(keyring: Keyring, tokens: Sequence[str]) -> Callable[[], None]:
    """One pass of ``cryptography``'s verify over the tokens' signatures."""
    public: Any = keyring.signer.public
    prepared: list[tuple[bytes, bytes]] = []
    for token in tokens:
        signing_input, _, signature = token.rpartition(".")
        raw = _b64(signature)
        if keyring.signer.algorithm == "ES256":
            raw = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        prepared.append((raw, signing_input.encode()))
    if isinstance(public, ed25519.Ed25519PublicKey):
        verify_ed = public.verify

        def run() -> None:
            for signature, message in prepared:
                verify_ed(signature, message)

    elif isinstance(public, ec.EllipticCurvePublicKey):
        verify_ec, ecdsa = public.verify, ec.ECDSA(hashes.SHA256())

        def run() -> None:
            for signature, message in prepared:
                verify_ec(signature, message, ecdsa)

    else:
        assert isinstance(public, rsa.RSAPublicKey)
        verify_rsa, pkcs, sha256 = public.verify, padding.PKCS1v15(), hashes.SHA256()

        def run() -> None:
            for signature, message in prepared:
                verify_rsa(signature, message, pkcs, sha256)

    return run


def best_rate(passes: Callable[[], Callable[[], None]], count: int, repeat: int) -> float:
    """Verifications per second of the fastest of ``repeat`` passes (``passes`` prepares each)."""
    best = float("inf")
    for _ in range(repeat):
        one_pass = passes()
        start = time.perf_counter()
        one_pass()
        best = min(best, time.perf_counter() - start)
    return count / best


async def measure(algorithm: str, count: int, repeat: int) -> dict[str, float]:
    """The four rates for one algorithm."""
    keyring = Keyring.generate(algorithm)
    tokens = sign_tokens(keyring, count)
    verifiers: list[Verifier] = []

    async def started() -> Verifier:
        # max_staleness: the timed loops block the event loop, so no heartbeat lands meanwhile.
        verifier = Verifier(StandIn(keyring), max_staleness=3600.0)  # type: ignore[arg-type]
        await verifier.start()
        verifiers.append(verifier)
        return verifier

    fresh = [await started() for _ in range(repeat)]
    warm = await started()
    for token in tokens:
        warm.verify(token)

    def each_token(verify: Callable[[str], object]) -> Callable[[], None]:
        def run() -> None:
            for t in tokens:
                verify(t)

        return run

    def first_seen_pass() -> Callable[[], None]:
        return each_token(fresh.pop().verify)

    def seen_pass() -> Callable[[], None]:
        return each_token(warm.verify)

    public = keyring.signer.public

    def pyjwt_pass() -> Callable[[], None]:
        options: Any = {"require": list(REQUIRED_CLAIMS)}

        def run() -> None:
            for t in tokens:
                jwt.decode(
                    t, public, algorithms=[algorithm], audience=AUDIENCE, issuer=ISSUER, options=options
                )

        return run

    rates = {
        "bare": best_rate(lambda: bare_checks(keyring, tokens), count, repeat),
        "first_seen": best_rate(first_seen_pass, count, repeat),
        "seen": best_rate(seen_pass, count, repeat),
        "pyjwt": best_rate(pyjwt_pass, count, repeat),
    }
    for verifier in verifiers:
        await verifier.close()
    return rates


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tokens", type=int, default=2000, help="distinct tokens per algorithm")
    parser.add_argument("--repeat", type=int, default=3, help="passes per figure; the best is kept")
    parser.add_argument("--algorithm", action="append", choices=SUPPORTED_ALGORITHMS, help="default: all")
    args = parser.parse_args(argv)
    print(f"verifications/s on one thread (best of {args.repeat} passes over {args.tokens} tokens)")
    print(f"{'alg':6} {'bare':>9} {'first seen':>11} {'seen':>10} {'pyjwt':>9}  first/bare  first/pyjwt")
    found: list[Target] = []
    for algorithm in args.algorithm or SUPPORTED_ALGORITHMS:
        r = asyncio.run(measure(algorithm, args.tokens, args.repeat))
        print(
            f"{algorithm:6} {r['bare']:9.0f} {r['first_seen']:11.0f} {r['seen']:10.0f} {r['pyjwt']:9.0f}"
            f"  {r['first_seen'] / r['bare']:10.2f}  {r['first_seen'] / r['pyjwt']:11.2f}"
        )
        share = r["first_seen"] / r["bare"]
        found += [
            Target(
                f"{algorithm} tokens seen before, verifications/s",
                f">= {SEEN_TARGET:,}",
                f"{r['seen']:,.0f}",
                f"first seen {r['first_seen']:,.0f}/s",
                r["seen"] >= SEEN_TARGET,
            ),
            Target(
                f"{algorithm} first seen / bare signature check",
                f">= {FIRST_SEEN_SHARE:.2f}",
                f"{share:.2f}",
                f"bare {r['bare']:,.0f}/s",
                share >= FIRST_SEEN_SHARE,
            ),
        ]
    print()
    print(targets_table(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
