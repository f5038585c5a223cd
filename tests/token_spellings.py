"""Other spellings of a compact JWS that lenient base64url decoders read as the same token
(PyJWT, Python's base64 and binascii, Node's Buffer): each must be refused wherever a
token is verified, so that a deny-list or cache keyed on the token string sees one string."""

from __future__ import annotations

_URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def respellings(token: str) -> dict[str, str]:
    """Named variants of ``token`` that change only its signature segment (so the signing
    input stays the same): a junk suffix, ``=`` padding, a non-zero unused bit in the last
    character, and ``+``/``/`` for ``-``/``_``."""
    signing_input, _, signature = token.rpartition(".")
    variants = {"tilde suffix": token + "~~~~"}
    if len(signature) % 4:
        variants["padding"] = f"{signing_input}.{signature}{'=' * (-len(signature) % 4)}"
    if len(signature) % 4 in (2, 3):
        # The low bit of the last character is unused here: lenient decoders ignore it.
        flipped = _URLSAFE[_URLSAFE.index(signature[-1]) | 1]
        variants["unused bits set"] = f"{signing_input}.{signature[:-1]}{flipped}"
    standard = signature.replace("-", "+").replace("_", "/")
    if standard != signature:
        variants["plus and slash"] = f"{signing_input}.{standard}"
    return variants


def respellable(token: str) -> bool:
    """True when :func:`respellings` finds every kind of variant for ``token``."""
    return len(respellings(token)) == 4
