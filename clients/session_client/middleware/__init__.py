"""Authentication middleware for services that accept session-service access tokens.

- :mod:`session_client.middleware.asgi`: ASGI (FastAPI, Starlette, any ASGI app).
- :mod:`session_client.middleware.grpc_aio`: a grpc.aio server interceptor.

Both take a started :class:`~session_client.verifier.Verifier`, so checking a request
costs no network call.
"""
