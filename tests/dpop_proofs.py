"""DPoP proofs made by implementations we did not write, for the tests of every door:
joserfc (Python) and panva's ``dpop`` (Node.js, a devDependency of clients/node)."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

NODE_DIR = Path(__file__).parents[1] / "clients" / "node"
ALGORITHMS = "ES256 ES384 EdDSA Ed25519 PS256 RS256"
"""The default SESSION_DPOP_ALGORITHMS, as the algs of a DPoP challenge."""

Key = ECKey | OKPKey | RSAKey


def new_key(alg: str = "ES256") -> Key:
    """A fresh key pair for ``alg``."""
    if alg == "ES256":
        return ECKey.generate_key("P-256")
    if alg == "ES384":
        return ECKey.generate_key("P-384")
    if alg == "EdDSA":
        return OKPKey.generate_key("Ed25519")
    return RSAKey.generate_key(2048)


def make_proof(
    key: Key,
    alg: str = "ES256",
    *,
    htm: str = "POST",
    htu: str = "https://login.example.com/token",
    iat: float | None = None,
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
) -> str:
    """A proof signed by joserfc (a fresh jti unless ``claims`` names one)."""
    protected = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False), **(header or {})}
    payload = {
        "jti": str(uuid.uuid4()),
        "htm": htm,
        "htu": htu,
        "iat": int(time.time() if iat is None else iat),
        **(claims or {}),
    }
    return jws.serialize_compact(protected, json.dumps(payload).encode(), key, algorithms=[alg])


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned_proof(key: Key, htm: str, htu: str) -> str:
    """An ``alg: none`` proof carrying ``key``'s public jwk."""
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": key.as_dict(private=False)}
    body = {"jti": str(uuid.uuid4()), "htm": htm, "htu": htu, "iat": int(time.time())}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}."


def hmac_proof(htm: str, htu: str) -> str:
    """An HS256 proof (a MAC, which no proof may be), made by joserfc."""
    secret = OctKey.generate_key(256)
    body = {"jti": str(uuid.uuid4()), "htm": htm, "htu": htu, "iat": int(time.time())}
    return jws.serialize_compact(
        {"typ": "dpop+jwt", "alg": "HS256", "jwk": secret.as_dict(private=False)},
        json.dumps(body).encode(),
        secret,
        algorithms=["HS256"],
    )


def panva_proofs(
    requests: list[dict[str, str]], private_jwk: dict[str, Any] | None = None, alg: str = "ES256"
) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """Proofs made by panva's ``dpop``, one for each request (``htm``, ``htu`` and
    optionally ``nonce`` and ``ath_token``), by a key pair for ``alg`` it generates or by
    the ES256 one of ``private_jwk`` (from an earlier call); returns the public jwk, the
    proofs and the private jwk."""
    assert (NODE_DIR / "node_modules" / "dpop").is_dir(), "run `make install` (npm ci in clients/node)"
    script = """
      import { generateKeyPair, generateProof } from 'dpop';
      const [requests, given] = [JSON.parse(process.argv[1]), JSON.parse(process.argv[2])];
      const generated = process.argv[3];
      const alg = { name: 'ECDSA', namedCurve: 'P-256' };
      let kp;
      if (given) {
        const { d, key_ops, ext, ...pub } = given;
        kp = {
          privateKey: await crypto.subtle.importKey('jwk', given, alg, true, ['sign']),
          publicKey: await crypto.subtle.importKey('jwk', pub, alg, true, ['verify']),
        };
      } else {
        kp = await generateKeyPair(generated, { extractable: true });
      }
      const proofs = [];
      for (const r of requests) {
        proofs.push(await generateProof(kp, r.htu, r.htm, r.nonce, r.ath_token));
      }
      const jwk = await crypto.subtle.exportKey('jwk', kp.publicKey);
      const priv = await crypto.subtle.exportKey('jwk', kp.privateKey);
      console.log(JSON.stringify({ jwk, proofs, priv }));
    """
    result = subprocess.run(
        ["node", "--input-type=module", "-e", script, json.dumps(requests), json.dumps(private_jwk), alg],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    made = json.loads(result.stdout)
    jwk = {k: v for k, v in made["jwk"].items() if k in ("kty", "crv", "x", "y", "n", "e")}
    return jwk, list(made["proofs"]), dict(made["priv"])
