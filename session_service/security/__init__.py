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
