"""Zero-trust building blocks: server TLS/mTLS, caller identity, authorization policy.

- :mod:`~session_service.security.tls`: :class:`ServerTls`, server credentials whose
  certificate, key and client CAs are rotated on disk without a restart;
- :mod:`~session_service.security.caller`: the caller's identity from its client
  certificate (:func:`identity_from_auth_context`) or a bearer caller token
  (:class:`CallerTokenVerifier`);
- :mod:`~session_service.security.policy`: which identity may call which RPC
  (:class:`PolicyFile`, the pure :func:`decide`);
- :mod:`~session_service.security.reload`: :class:`Reloader`, the one mechanism that
  re-reads those files when they change.

Audit events are emitted by :mod:`session_service.audit`.
"""

from __future__ import annotations

from session_service.security.caller import (
    AUDIENCE_SETTING,
    CALLER_TOKEN_ALGORITHMS,
    ISSUER_SETTING,
    JWKS_FILE_SETTING,
    CallerKey,
    CallerKeySet,
    CallerTokenVerifier,
    bearer_token,
    identity_from_auth_context,
    parse_caller_jwks,
)
from session_service.security.policy import (
    EVERY_RPC,
    POLICY_FILE_SETTING,
    RPC_NAMES,
    CallerGrant,
    Policy,
    PolicyFile,
    decide,
    parse_policy,
)
from session_service.security.reload import DEFAULT_POLL_INTERVAL, InvalidFile, Reloader
from session_service.security.tls import (
    CERT_FILE_SETTING,
    CLIENT_CA_FILE_SETTING,
    KEY_FILE_SETTING,
    ServerTls,
    TlsMaterial,
    load_tls_material,
)

__all__ = [
    "AUDIENCE_SETTING",
    "CALLER_TOKEN_ALGORITHMS",
    "CERT_FILE_SETTING",
    "CLIENT_CA_FILE_SETTING",
    "DEFAULT_POLL_INTERVAL",
    "EVERY_RPC",
    "ISSUER_SETTING",
    "JWKS_FILE_SETTING",
    "KEY_FILE_SETTING",
    "POLICY_FILE_SETTING",
    "RPC_NAMES",
    "CallerGrant",
    "CallerKey",
    "CallerKeySet",
    "CallerTokenVerifier",
    "InvalidFile",
    "Policy",
    "PolicyFile",
    "Reloader",
    "ServerTls",
    "TlsMaterial",
    "bearer_token",
    "decide",
    "identity_from_auth_context",
    "load_tls_material",
    "parse_caller_jwks",
    "parse_policy",
]
