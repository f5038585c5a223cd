"""Who is calling, and may they: the one place where caller identity is read.

Identity comes from the verified client certificate (mTLS: its URI SAN, else its first
DNS SAN), else from a bearer caller token in the ``authorization`` metadata, verified
against the caller JWKS. The allow/deny decision is the policy module's pure function
of identity, RPC and policy. Health checks are always open (probes carry no
credentials); server reflection is subject to the policy like any RPC
(``ServerReflectionInfo``). Every refusal leaves an audit line.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import grpc

from session_service.audit import AuditLog
from session_service.domain.delegation import ExchangeGrant
from session_service.errors import CallerNotAllowed, CallerUnauthenticated
from session_service.security.caller import (
    CallerTokenVerifier,
    certificate_x5t_from_auth_context,
    identity_from_auth_context,
)
from session_service.security.policy import PolicyFile, exchange_grant, session_callers

Context = grpc.aio.ServicerContext[Any, Any]

current_caller: ContextVar[str | None] = ContextVar("current_caller", default=None)
"""The identity of the caller of the call being served (None when unknown); each call
runs in its own task, so this never leaks into another call."""

current_caller_certificate: ContextVar[str | None] = ContextVar("current_caller_certificate", default=None)
"""The ``x5t#S256`` of the current caller's verified client certificate (None without mTLS)."""

REFLECTION_RPC = "ServerReflectionInfo"
"""Server reflection's one RPC, as the policy names it."""


class CallerGuard:
    """Authenticates the caller of every call and applies the authorization policy."""

    def __init__(
        self,
        *,
        mutual_tls: bool,
        tokens: CallerTokenVerifier | None,
        policy: PolicyFile | None,
        audit: AuditLog,
    ) -> None:
        """``mutual_tls``: client certificates are verified by the TLS handshake;
        ``tokens``: bearer caller tokens are accepted; ``policy``: who may call what
        (None: any caller may call anything, once authenticated when tokens are on)."""
        self._mutual_tls = mutual_tls
        self._tokens = tokens
        self._policy = policy
        self._audit = audit

    @property
    def active(self) -> bool:
        """Whether calls are checked at all (plaintext development: not)."""
        return self._mutual_tls or self._tokens is not None or self._policy is not None

    def authorize(self, rpc: str, request: Any, context: Context) -> None:
        """Returns when a call of ``rpc`` (its short name, as the policy names it) may go on;
        raises CallerUnauthenticated or CallerNotAllowed. Health checks never come here (the
        interceptor leaves them open)."""
        identity: str | None = None
        try:
            identity = self._identify(context)
            current_caller.set(identity)
            if self._mutual_tls:
                current_caller_certificate.set(certificate_x5t_from_auth_context(context.auth_context()))
            if self._policy is not None:
                creating = rpc == "Create"
                client_id = getattr(request, "client_id", None) if creating else None
                impersonator = getattr(request, "impersonator", "") if creating else ""
                self._policy.decide(identity, rpc, client_id, impersonator=impersonator)
            elif identity is None and self._tokens is not None:
                raise CallerUnauthenticated("a caller token is required")
        except (CallerUnauthenticated, CallerNotAllowed) as e:
            self._audit.caller_denied(identity, rpc, e.reason)  # type: ignore[arg-type]
            raise

    def session_callers(self, identity: str) -> frozenset[str]:
        """The identities whose sessions ``identity`` may refresh and revoke by refresh
        token, by the current policy (:func:`~session_service.security.policy.session_callers`)."""
        return session_callers(self._policy.policy if self._policy is not None else None, identity)

    def exchange_grant(self, identity: str) -> ExchangeGrant:
        """What ``identity`` may obtain by Exchange, by the current policy
        (:func:`~session_service.security.policy.exchange_grant`)."""
        return exchange_grant(self._policy.policy if self._policy is not None else None, identity)

    def may_impersonate(self, identity: str | None) -> bool:
        """Whether ``identity`` may open impersonation sessions: only by a policy entry
        that says so (never without a policy)."""
        if identity is None or self._policy is None:
            return False
        grant = self._policy.policy.callers.get(identity)
        return grant is not None and grant.impersonate

    def _identify(self, context: Context) -> str | None:
        if self._mutual_tls:
            identity = identity_from_auth_context(context.auth_context())
            if identity is not None:
                return identity
        if self._tokens is not None:
            return self._tokens.identity_from_metadata(context.invocation_metadata())  # type: ignore[arg-type]
        return None
