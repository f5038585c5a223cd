"""The wire contract of session-service, shared by the server and every Python client.

- :mod:`session_wire.v1` holds the generated protobuf/gRPC stubs of ``protos/session/v1``
  (with typing stubs): ``session_pb2``, ``session_pb2_grpc`` and ``errors_pb2``.
- :mod:`session_wire.reasons` names the ErrorInfo reasons, declared once in
  ``protos/session/v1/errors.proto`` (enum ``ErrorReason``).
- :mod:`session_wire.token_profile` is the access-token profile both sides check:
  algorithms, ``typ``, required and reserved claims.

It also holds, once, the mechanisms that the server and the client both run:

- :mod:`session_wire.revocations`: the revocation view a token verifier keeps (revoked
  sessions until their tokens expire, the freshness rule) and the loop that follows the
  revocation stream;
- :mod:`session_wire.token_cache`: the cache of verified tokens;
- :mod:`session_wire.tasks`: stopping background tasks whose cancellation a library lost;
- :mod:`session_wire.dpop`: the checks of a DPoP proof (RFC 9449).
- :mod:`session_wire.b64url`: strict base64url, the one spelling of every token segment.
- :mod:`session_wire.assurance`: a route's authentication requirements (RFC 9470
  ``max_age``, ``acr_values``; ``scope``) and the challenge for a token that misses them.
- :mod:`session_wire.delegation`: exchanged tokens (RFC 8693 ``act``, ``may_act``) and
  certificate-bound ones (RFC 8705 ``x5t#S256`` of a certificate in any spelling a proxy
  forwards).

They depend on nothing but the standard library (``dpop`` on PyJWT). The
server (``sessionsvc-server``) and the client (``sessionsvc-client``) pin the same
version of this distribution (``sessionsvc-wire``).
"""

from __future__ import annotations

__version__ = "0.2.0"
"""Version of the contract; equal to the server's and the client's version."""
