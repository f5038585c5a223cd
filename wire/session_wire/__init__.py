"""The wire contract of session-service, shared by the server and every Python client.

- :mod:`session_wire.v1` holds the generated protobuf/gRPC stubs of ``protos/session/v1``
  (with typing stubs): ``session_pb2``, ``session_pb2_grpc`` and ``errors_pb2``.
- :mod:`session_wire.reasons` names the ErrorInfo reasons, declared once in
  ``protos/session/v1/errors.proto`` (enum ``ErrorReason``).
- :mod:`session_wire.token_profile` is the access-token profile both sides check:
  algorithms, ``typ``, required and reserved claims.

This distribution (``sessionsvc-wire``) carries no behaviour; the server
(``sessionsvc-server``) and the client (``sessionsvc-client``) pin the same version.
"""

from __future__ import annotations

__version__ = "0.2.0"
"""Version of the contract; equal to the server's and the client's version."""
