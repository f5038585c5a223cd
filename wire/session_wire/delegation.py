"""Delegated access tokens: what the server mints by token exchange and every verifier checks.

Token exchange (RFC 8693) gives a service a narrower token than the user's: one
audience, fewer scopes, minutes of life, an ``act`` claim naming who acts on the user's
behalf (section 4.1, the outermost ``act`` is the current actor, each earlier actor
nested inside it) and, optionally, a ``cnf`` claim binding it to the client certificate
of the service that obtained it (RFC 8705 section 3: ``x5t#S256``, the base64url SHA-256
of the certificate's DER encoding). Such a token is accepted only from a peer that
presents that certificate.

The server (the Exchange RPC, Introspect, Envoy ``Check``, HTTP forward-auth) and the
client's Verifier read these claims with the functions here, so they cannot disagree on
what a chain or a thumbprint is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "ACT_CLAIM",
    "MAY_ACT_CLAIM",
    "X5T_S256",
    "act_depth",
    "act_json",
    "certificate_matches",
    "certificate_thumbprint",
    "may_act_subject",
    "nest_act",
    "x5t_s256_of",
]

ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
"""RFC 8693 section 3: the ``issued_token_type`` of an exchanged access token."""
ACT_CLAIM = "act"
"""RFC 8693 section 4.1: the actor (and, nested, the actors before it)."""
MAY_ACT_CLAIM = "may_act"
"""RFC 8693 section 4.4: the one actor allowed to exchange the token (``{"sub": ...}``)."""
X5T_S256 = "x5t#S256"
"""RFC 8705 section 3.1: the ``cnf`` member holding a certificate's SHA-256 thumbprint."""

_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
_PEM_END = "-----END CERTIFICATE-----"


def act_json(act: object) -> str:
    """The ``act`` claim as compact JSON ('' when the token has none or it is not an object)."""
    if not isinstance(act, dict):
        return ""
    return json.dumps(act, separators=(",", ":"), sort_keys=True)


def act_depth(act: object) -> int:
    """How many actors an ``act`` claim names (0 for none); -1 when it is malformed: every
    level must be an object with a non-empty string ``sub``."""
    depth = 0
    while act is not None:
        if not isinstance(act, dict) or not isinstance(act.get("sub"), str) or not act["sub"]:
            return -1
        depth += 1
        act = act.get(ACT_CLAIM)
    return depth


def may_act_subject(may_act: object) -> str | None:
    """The actor a ``may_act`` claim names: its ``sub``, from the claim's object or, as a
    session's extra claim carries it, that object's JSON text; None when malformed."""
    if isinstance(may_act, str):
        try:
            may_act = json.loads(may_act)
        except ValueError:
            return None
    if not isinstance(may_act, dict) or set(may_act) != {"sub"}:
        return None
    sub = may_act["sub"]
    return sub if isinstance(sub, str) and sub else None


def nest_act(actor: str, previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``act`` of a token ``actor`` obtained by exchanging one whose ``act`` was
    ``previous``: the new actor outermost, the earlier chain inside it."""
    act: dict[str, Any] = {"sub": actor}
    if previous:
        act[ACT_CLAIM] = dict(previous)
    return act


def x5t_s256_of(der: bytes) -> str:
    """RFC 8705's ``x5t#S256`` of a DER certificate: base64url SHA-256, unpadded."""
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode("ascii")


def certificate_thumbprint(certificate: bytes | str) -> str | None:
    """The ``x5t#S256`` of a certificate given as DER, as PEM, or as PEM URL-escaped the
    way proxies forward it (nginx ``$ssl_client_escaped_cert``, Envoy's
    ``source.certificate``); also PEM whose line breaks a header turned into spaces, and
    the base64 of DER. None when it is none of those.

    Only the encoding is read: the certificate's validity is the TLS handshake's business
    (the proxy or the server that accepted the connection verified it)."""
    if isinstance(certificate, bytes):
        if certificate[:1] == b"\x30":  # a DER SEQUENCE
            return x5t_s256_of(certificate)
        try:
            certificate = certificate.decode("ascii")
        except UnicodeDecodeError:
            return None
    text = certificate.strip()
    if "%" in text:
        text = urllib.parse.unquote(text).strip()
    if text.startswith(_PEM_BEGIN):
        end = text.find(_PEM_END)
        if end < 0 or text[end + len(_PEM_END) :].strip():
            return None  # one certificate, not a chain: the first of a chain binds nothing
        text = text[len(_PEM_BEGIN) : end]
    try:
        der = base64.b64decode("".join(text.split()), validate=True)
    except ValueError:
        return None
    return x5t_s256_of(der) if der[:1] == b"\x30" else None


def certificate_matches(bound: str, presented: str | None) -> bool:
    """Whether a token bound to the thumbprint ``bound`` may be used by a peer whose
    certificate has the thumbprint ``presented`` (None: no certificate). Constant time."""
    if presented is None:
        return False
    return hmac.compare_digest(bound.encode("ascii", "replace"), presented.encode("ascii", "replace"))
