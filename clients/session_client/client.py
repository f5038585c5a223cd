"""A typed asyncio client for session.v1.SessionService, and a thin blocking wrapper.

Every call gets a deadline (``timeout`` per client, overridable per call). Idempotent
calls (Get, Revoke, Introspect, List, GetJwks) are retried on UNAVAILABLE by gRPC itself,
as the channel's service config says: with backoff, and never after the deadline.
Create, Refresh and Update are not retried: a repeat could create a second session, or
look like a stolen refresh token. Failures raise the typed errors of
:mod:`session_client.errors`, never a raw ``grpc.RpcError``.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

from session_client.errors import from_rpc_error
from session_client.tracing import tracing_interceptors

T = TypeVar("T")

SERVICE = "session.v1.SessionService"
IDEMPOTENT_METHODS = ("Get", "Revoke", "Introspect", "IntrospectBatch", "List", "GetJwks")
"""Methods a retry cannot harm: reads, and Revoke (ending an ended session does nothing)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How gRPC retries idempotent calls that fail UNAVAILABLE (service config retryPolicy)."""

    max_attempts: int = 4
    """Attempts in all, the first included (gRPC caps this at 5)."""
    initial_backoff: float = 0.1
    """Seconds before the first retry; later ones grow by ``backoff_multiplier``."""
    max_backoff: float = 2.0
    """Upper bound of the wait between attempts, in seconds."""
    backoff_multiplier: float = 2.0
    """Growth of the backoff per attempt."""


@dataclass(frozen=True)
class TlsConfig:
    """TLS for the channel; with a certificate and key, mutual TLS."""

    root_certificates: bytes | None = None
    """PEM CA bundle that verifies the server; None uses the system's roots."""
    certificate_chain: bytes | None = None
    """PEM certificate this client presents (mTLS)."""
    private_key: bytes | None = None
    """PEM private key of ``certificate_chain``."""
    server_name: str | None = None
    """Name to expect in the server's certificate, when it differs from the target's host."""

    @classmethod
    def from_files(
        cls,
        ca_file: str | Path | None = None,
        cert_file: str | Path | None = None,
        key_file: str | Path | None = None,
        server_name: str | None = None,
    ) -> TlsConfig:
        """Reads the PEM files (e.g. a mounted Kubernetes Secret)."""

        def read(path: str | Path | None) -> bytes | None:
            return Path(path).read_bytes() if path is not None else None

        return cls(read(ca_file), read(cert_file), read(key_file), server_name)


def caller_token_file(path: str | Path) -> Callable[[], str]:
    """A caller-token source that re-reads ``path`` when it changes (a projected
    service-account token is rotated in place by the kubelet)."""
    file = Path(path)
    cached: list[tuple[int, str]] = []

    def read() -> str:
        stamp = file.stat().st_mtime_ns
        if not cached or cached[0][0] != stamp:
            cached[:] = [(stamp, file.read_text().strip())]
        return cached[0][1]

    read()  # a missing file fails now, not on the first call
    return read


def service_config(retry: RetryPolicy) -> str:
    """The channel's service config: a retry policy for the idempotent methods only."""

    def seconds(value: float) -> str:
        return f"{value:.3f}s"

    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": [{"service": SERVICE, "method": m} for m in IDEMPOTENT_METHODS],
                    "retryPolicy": {
                        "maxAttempts": retry.max_attempts,
                        "initialBackoff": seconds(retry.initial_backoff),
                        "maxBackoff": seconds(retry.max_backoff),
                        "backoffMultiplier": retry.backoff_multiplier,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


def channel_options(retry: RetryPolicy | None, tls: TlsConfig | None) -> list[tuple[str, Any]]:
    """The options :class:`SessionClient` opens its channel with."""
    options: list[tuple[str, Any]] = [("grpc.enable_retries", 1 if retry else 0)]
    if retry:
        options.append(("grpc.service_config", service_config(retry)))
    if tls is not None and tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return options


_LOCAL_HOSTS = frozenset({"localhost", "ip6-localhost"})


def is_local_target(target: str) -> bool:
    """Whether a gRPC target names this machine: a Unix socket, ``localhost`` or a loopback address."""
    if target.startswith(("unix:", "unix-abstract:")):
        return True
    rest = target
    for scheme in ("dns:", "ipv4:", "ipv6:"):
        if rest.startswith(scheme):
            rest = rest[len(scheme) :].lstrip("/")
            break
    host = rest
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    host = host.lower()
    if host in _LOCAL_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reason(name: str) -> pb.RevocationReason.ValueType:
    """The wire value of a revocation reason name ('' → unspecified); ValueError if unknown."""
    return pb.RevocationReason.Value(f"REVOCATION_REASON_{name or 'UNSPECIFIED'}")


def _timestamp(value: datetime.datetime | None) -> Timestamp | None:
    """A Timestamp of an aware datetime (a naive one is taken as UTC); None stays unset."""
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC))
    return ts


async def _call(call: Awaitable[T]) -> T:
    try:
        return await call
    except grpc.RpcError as e:
        raise from_rpc_error(e) from e


class SessionClient:
    """Async client of session-service. Use ``async with SessionClient(target) as client``."""

    def __init__(
        self,
        target: str,
        *,
        tls: TlsConfig | None = None,
        timeout: float = 5.0,
        retry: RetryPolicy | None = RetryPolicy(),
        metadata: Sequence[tuple[str, str]] = (),
        options: Iterable[tuple[str, Any]] = (),
        caller_token: str | Callable[[], str] | None = None,
        insecure: bool = False,
    ) -> None:
        """Without ``tls`` the channel is plaintext, which is allowed only to a loopback or
        Unix-socket target unless ``insecure=True`` says so explicitly (ValueError otherwise):
        a plaintext channel would carry tokens readable on the network and trust whatever
        keys a Verifier fetches over it.

        ``caller_token`` authenticates this process to the service when it has no client
        certificate: a JWT the service verifies against its caller JWKS (e.g. a Kubernetes
        projected service-account token), given as a string or as a function called before
        every call (so a rotated token file is re-read; see :func:`caller_token_file`). It
        travels as ``authorization: Bearer …``: use it over TLS."""
        if tls is None and not insecure and not is_local_target(target):
            raise ValueError(
                f"refusing a plaintext channel to {target!r}: pass tls=TlsConfig(...), "
                "or insecure=True to allow plaintext to a non-loopback target"
            )
        all_options = [*channel_options(retry, tls), *options]
        if tls is None:
            self._channel = grpc.aio.insecure_channel(
                target, options=all_options, interceptors=tracing_interceptors()
            )
        else:
            credentials = grpc.ssl_channel_credentials(
                tls.root_certificates, tls.private_key, tls.certificate_chain
            )
            self._channel = grpc.aio.secure_channel(
                target, credentials, options=all_options, interceptors=tracing_interceptors()
            )
        self._stub = session_pb2_grpc.SessionServiceStub(self._channel)
        self._timeout = timeout
        self._metadata = tuple(metadata)
        self._caller_token = caller_token

    def _call_metadata(self) -> tuple[tuple[str, str], ...]:
        token = self._caller_token
        if token is None:
            return self._metadata
        value = token() if callable(token) else token
        return (*self._metadata, ("authorization", f"Bearer {value}"))

    @property
    def channel(self) -> grpc.aio.Channel:
        """The underlying channel (for other stubs on the same connection)."""
        return self._channel

    async def __aenter__(self) -> SessionClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        await self._channel.close()

    def _deadline(self, timeout: float | None) -> float:
        return self._timeout if timeout is None else timeout

    async def create(
        self,
        user_id: str,
        *,
        claims: Mapping[str, str] | None = None,
        data: Mapping[str, bytes] | None = None,
        scopes: Sequence[str] = (),
        client: pb.ClientInfo | None = None,
        client_id: str = "",
        dpop: pb.DpopProof | None = None,
        impersonator: str = "",
        acr: str = "",
        amr: Sequence[str] = (),
        auth_time: datetime.datetime | None = None,
        idp: pb.IdpSession | None = None,
        timeout: float | None = None,
    ) -> pb.CreateResponse:
        """Starts a session for an authenticated user: the session and its tokens.

        ``dpop``: the DPoP proof the user's client sent with its login request, with that
        request's method and URI; the session is then bound to the proof's key (RFC 9449):
        its access tokens carry ``cnf.jkt`` and every refresh needs a proof by that key.
        ``impersonator``: the operator who acts as the user (support tooling; only for
        callers whose policy entry says ``impersonate: true``): the tokens carry
        ``act: {"sub": impersonator}``, and the session is short and never refreshed.
        ``acr``, ``amr`` (RFC 8176 values), ``auth_time`` (default now): how and when the
        user authenticated; the access tokens carry them (RFC 9470).
        ``idp``: the identity provider's ``iss``, ``sub`` and ``sid`` from the ID token of
        this login, so that a back-channel logout or a shared signal from that provider
        ends this session (see docs/sso.md)."""
        request = pb.CreateRequest(
            user_id=user_id,
            claims=dict(claims or {}),
            data=dict(data or {}),
            scopes=list(scopes),
            client=client,
            client_id=client_id,
            dpop=dpop,
            impersonator=impersonator,
            acr=acr,
            amr=list(amr),
            auth_time=_timestamp(auth_time),
            idp=idp,
        )
        return await _call(
            self._stub.Create(request, timeout=self._deadline(timeout), metadata=self._call_metadata())
        )

    async def get(self, session_id: str, *, timeout: float | None = None) -> pb.Session:
        """A live session; slides its idle expiry."""
        reply = await _call(
            self._stub.Get(
                pb.GetRequest(session_id=session_id),
                timeout=self._deadline(timeout),
                metadata=self._call_metadata(),
            )
        )
        return reply.session

    async def refresh(
        self,
        refresh_token: str,
        *,
        dpop: pb.DpopProof | None = None,
        client: pb.ClientInfo | None = None,
        timeout: float | None = None,
    ) -> pb.RefreshResponse:
        """New tokens for a refresh token, which is rotated (use the returned one next time).

        ``dpop``: the client's DPoP proof for its refresh request; required, by the key the
        session is bound to, when it was created with one (else DpopProofInvalid, whose
        ``nonce`` names the nonce to use when the service asks for one). ``client``: who
        refreshes (IP address, user agent, device), the session's last client and what
        its risk signals compare; a step-up raises ReauthenticationRequired (have the user
        authenticate again, then :meth:`reauthenticate`)."""
        request = pb.RefreshRequest(refresh_token=refresh_token, dpop=dpop, client=client)
        return await _call(
            self._stub.Refresh(request, timeout=self._deadline(timeout), metadata=self._call_metadata())
        )

    async def reauthenticate(
        self,
        session_id: str,
        *,
        acr: str = "",
        amr: Sequence[str] = (),
        auth_time: datetime.datetime | None = None,
        dpop: pb.DpopProof | None = None,
        timeout: float | None = None,
    ) -> pb.ReauthenticateResponse:
        """Records that the session's user authenticated again (``acr``, ``amr``,
        ``auth_time``, default now) and moves the session to a new id with new tokens: the
        old id and its tokens end (use the returned ones). ``dpop``: required, by the
        session's key, for a DPoP-bound session."""
        request = pb.ReauthenticateRequest(
            session_id=session_id, acr=acr, amr=list(amr), auth_time=_timestamp(auth_time), dpop=dpop
        )
        return await _call(
            self._stub.Reauthenticate(
                request, timeout=self._deadline(timeout), metadata=self._call_metadata()
            )
        )

    async def _revoke(self, request: pb.RevokeRequest, timeout: float | None) -> int:
        reply = await _call(
            self._stub.Revoke(request, timeout=self._deadline(timeout), metadata=self._call_metadata())
        )
        return reply.revoked_count

    async def revoke_session(self, session_id: str, *, reason: str = "", timeout: float | None = None) -> int:
        """Ends one session ("log out"); how many live sessions ended (0 or 1).

        ``reason``: a ``RevocationReason`` name without its prefix, e.g. ``ADMINISTRATIVE``
        when ending it on the user's behalf; '' lets the service derive it (here LOGOUT)."""
        return await self._revoke(pb.RevokeRequest(session_id=session_id, reason=_reason(reason)), timeout)

    async def revoke_refresh_token(
        self, refresh_token: str, *, reason: str = "", timeout: float | None = None
    ) -> int:
        """Ends the session of a current refresh token; 0 for an invalid token (RFC 7009)."""
        request = pb.RevokeRequest(refresh_token=refresh_token, reason=_reason(reason))
        return await self._revoke(request, timeout)

    async def revoke_access_token(
        self, access_token: str, *, reason: str = "", timeout: float | None = None
    ) -> int:
        """Ends the session of a valid access token; 0 for an invalid token (RFC 7009)."""
        request = pb.RevokeRequest(access_token=access_token, reason=_reason(reason))
        return await self._revoke(request, timeout)

    async def revoke_user(
        self, user_id: str, *, except_session_id: str = "", reason: str = "", timeout: float | None = None
    ) -> int:
        """Ends all of a user's sessions ("log out everywhere"), but ``except_session_id``
        ("log out other devices"); ``reason`` as in :meth:`revoke_session`."""
        request = pb.RevokeRequest(
            user_id=user_id, except_session_id=except_session_id, reason=_reason(reason)
        )
        return await self._revoke(request, timeout)

    async def introspect(
        self, token: str, *, token_type_hint: str = "", audience: str = "", timeout: float | None = None
    ) -> pb.IntrospectResponse:
        """Whether a token is active right now, asked of the service (RFC 7662); for
        ``audience`` ('' means the service's own, SESSION_AUDIENCE)."""
        request = pb.IntrospectRequest(token=token, token_type_hint=token_type_hint, audience=audience)
        return await _call(
            self._stub.Introspect(request, timeout=self._deadline(timeout), metadata=self._call_metadata())
        )

    async def introspect_many(
        self, tokens: Sequence[str], *, token_type_hint: str = "", timeout: float | None = None
    ) -> list[pb.IntrospectResponse]:
        """:meth:`introspect` for many tokens (at most 500) in one call; answers in order."""
        request = pb.IntrospectBatchRequest(
            requests=[pb.IntrospectRequest(token=t, token_type_hint=token_type_hint) for t in tokens]
        )
        reply = await _call(
            self._stub.IntrospectBatch(
                request, timeout=self._deadline(timeout), metadata=self._call_metadata()
            )
        )
        return list(reply.responses)

    async def update(
        self,
        session_id: str,
        *,
        set: Mapping[str, bytes] | None = None,
        remove: Sequence[str] = (),
        expected_version: int = 0,
        timeout: float | None = None,
    ) -> pb.Session:
        """Patches the session's data; with ``expected_version``, as compare-and-set."""
        request = pb.UpdateRequest(
            session_id=session_id, set=dict(set or {}), remove=list(remove), expected_version=expected_version
        )
        reply = await _call(
            self._stub.Update(request, timeout=self._deadline(timeout), metadata=self._call_metadata())
        )
        return reply.session

    async def list_sessions(
        self, user_id: str, *, page_size: int = 0, timeout: float | None = None
    ) -> list[pb.Session]:
        """All the user's live sessions, following every page (in session-id order)."""
        sessions: list[pb.Session] = []
        token = ""
        while True:
            page = await self.list_page(user_id, page_size=page_size, page_token=token, timeout=timeout)
            sessions.extend(page.sessions)
            token = page.next_page_token
            if not token:
                return sessions

    async def list_page(
        self, user_id: str, *, page_size: int = 0, page_token: str = "", timeout: float | None = None
    ) -> pb.ListResponse:
        """One page of the user's live sessions; pass its ``next_page_token`` for the next."""
        return await _call(
            self._stub.List(
                pb.ListRequest(user_id=user_id, page_size=page_size, page_token=page_token),
                timeout=self._deadline(timeout),
                metadata=self._call_metadata(),
            )
        )

    async def exchange(
        self,
        subject_token: str,
        audience: str,
        *,
        scopes: Sequence[str] = (),
        ttl_seconds: int = 0,
        bind_to_caller_certificate: bool = False,
        timeout: float | None = None,
    ) -> pb.ExchangeResponse:
        """Trades a user's access token for a narrower one for ``audience`` (RFC 8693 token
        exchange): ``scopes`` a subset of the token's (empty: all of them), at most
        ``ttl_seconds`` of life (0: the longest the service allows), with an ``act`` claim
        naming this caller and, with ``bind_to_caller_certificate`` over mTLS, bound to this
        client's certificate. Raises SubjectTokenInvalid or ExchangeNotAllowed."""
        request = pb.ExchangeRequest(
            subject_token=subject_token,
            audience=audience,
            scopes=list(scopes),
            ttl_seconds=ttl_seconds,
            bind_to_caller_certificate=bind_to_caller_certificate,
        )
        return await _call(
            self._stub.Exchange(request, timeout=self._deadline(timeout), metadata=self._call_metadata())
        )

    async def get_jwks(self, *, timeout: float | None = None) -> dict[str, Any]:
        """The JWK Set (RFC 7517) of the keys that verify access tokens."""
        reply = await _call(
            self._stub.GetJwks(
                pb.GetJwksRequest(), timeout=self._deadline(timeout), metadata=self._call_metadata()
            )
        )
        jwks: dict[str, Any] = json.loads(reply.jwks_json)
        return jwks

    async def watch_revocations(self, cursor: str = "") -> AsyncGenerator[pb.WatchRevocationsResponse, None]:
        """Revocations after ``cursor`` (all retained ones from ''), then live ones, without end.

        No deadline: the stream lasts until the server ends it or the caller stops reading.
        :class:`~session_client.verifier.Verifier` resumes it after failures."""
        call = self._stub.WatchRevocations(
            pb.WatchRevocationsRequest(cursor=cursor), metadata=self._call_metadata()
        )
        try:
            async for response in call:
                yield response
        except grpc.RpcError as e:
            raise from_rpc_error(e) from e
        finally:
            call.cancel()


class SyncSessionClient:
    """Blocking wrapper of :class:`SessionClient` for code without an event loop.

    Runs the async client on a private event loop in a daemon thread; every method
    blocks until its call finishes. Use ``with SyncSessionClient(target) as client``."""

    def __init__(self, target: str, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="session-client", daemon=True)
        self._thread.start()
        self._client = self._run(self._open(target, kwargs))

    @staticmethod
    async def _open(target: str, kwargs: dict[str, Any]) -> SessionClient:
        # The channel must be created on the loop that will use it.
        return SessionClient(target, **kwargs)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __enter__(self) -> SyncSessionClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the channel and stops the private loop."""
        if self._loop.is_closed():
            return
        self._run(self._client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def create(self, user_id: str, **kwargs: Any) -> pb.CreateResponse:
        """See :meth:`SessionClient.create`."""
        return self._run(self._client.create(user_id, **kwargs))

    def get(self, session_id: str, *, timeout: float | None = None) -> pb.Session:
        """See :meth:`SessionClient.get`."""
        return self._run(self._client.get(session_id, timeout=timeout))

    def refresh(self, refresh_token: str, **kwargs: Any) -> pb.RefreshResponse:
        """See :meth:`SessionClient.refresh`."""
        return self._run(self._client.refresh(refresh_token, **kwargs))

    def reauthenticate(self, session_id: str, **kwargs: Any) -> pb.ReauthenticateResponse:
        """See :meth:`SessionClient.reauthenticate`."""
        return self._run(self._client.reauthenticate(session_id, **kwargs))

    def revoke_session(self, session_id: str, *, reason: str = "", timeout: float | None = None) -> int:
        """See :meth:`SessionClient.revoke_session`."""
        return self._run(self._client.revoke_session(session_id, reason=reason, timeout=timeout))

    def revoke_refresh_token(self, refresh_token: str, *, timeout: float | None = None) -> int:
        """See :meth:`SessionClient.revoke_refresh_token`."""
        return self._run(self._client.revoke_refresh_token(refresh_token, timeout=timeout))

    def revoke_access_token(self, access_token: str, *, timeout: float | None = None) -> int:
        """See :meth:`SessionClient.revoke_access_token`."""
        return self._run(self._client.revoke_access_token(access_token, timeout=timeout))

    def revoke_user(
        self, user_id: str, *, except_session_id: str = "", reason: str = "", timeout: float | None = None
    ) -> int:
        """See :meth:`SessionClient.revoke_user`."""
        return self._run(
            self._client.revoke_user(
                user_id, except_session_id=except_session_id, reason=reason, timeout=timeout
            )
        )

    def introspect(
        self, token: str, *, token_type_hint: str = "", audience: str = "", timeout: float | None = None
    ) -> pb.IntrospectResponse:
        """See :meth:`SessionClient.introspect`."""
        return self._run(
            self._client.introspect(
                token, token_type_hint=token_type_hint, audience=audience, timeout=timeout
            )
        )

    def introspect_many(
        self, tokens: Sequence[str], *, token_type_hint: str = "", timeout: float | None = None
    ) -> list[pb.IntrospectResponse]:
        """See :meth:`SessionClient.introspect_many`."""
        return self._run(
            self._client.introspect_many(tokens, token_type_hint=token_type_hint, timeout=timeout)
        )

    def update(self, session_id: str, **kwargs: Any) -> pb.Session:
        """See :meth:`SessionClient.update`."""
        return self._run(self._client.update(session_id, **kwargs))

    def list_sessions(
        self, user_id: str, *, page_size: int = 0, timeout: float | None = None
    ) -> list[pb.Session]:
        """See :meth:`SessionClient.list_sessions`."""
        return self._run(self._client.list_sessions(user_id, page_size=page_size, timeout=timeout))

    def list_page(
        self, user_id: str, *, page_size: int = 0, page_token: str = "", timeout: float | None = None
    ) -> pb.ListResponse:
        """See :meth:`SessionClient.list_page`."""
        return self._run(
            self._client.list_page(user_id, page_size=page_size, page_token=page_token, timeout=timeout)
        )

    def exchange(self, subject_token: str, audience: str, **kwargs: Any) -> pb.ExchangeResponse:
        """See :meth:`SessionClient.exchange`."""
        return self._run(self._client.exchange(subject_token, audience, **kwargs))

    def get_jwks(self, *, timeout: float | None = None) -> dict[str, Any]:
        """See :meth:`SessionClient.get_jwks`."""
        return self._run(self._client.get_jwks(timeout=timeout))
