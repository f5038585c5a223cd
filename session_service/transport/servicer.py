"""The SessionService servicer: proto in, domain call, proto out. Errors become statuses
in the call pipeline (:mod:`session_service.transport.pipeline`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

from session_service.audit import AuditLog
from session_service.domain.delegation import NO_EXCHANGE, Actor, ExchangeGrant
from session_service.domain.manager import SessionManager
from session_service.domain.model import DataPatch
from session_service.errors import CallerNotAllowed, FieldViolation, InvalidArgument
from session_service.transport import convert
from session_service.transport.caller_guard import current_caller, current_caller_certificate

Context = grpc.aio.ServicerContext[Any, Any]


class SessionServicer(session_pb2_grpc.SessionServiceServicer):
    """Serves session.v1.SessionService from a :class:`SessionManager`."""

    def __init__(
        self,
        manager: SessionManager,
        audit: AuditLog | None = None,
        session_callers: Callable[[str], frozenset[str]] | None = None,
        exchange_grants: Callable[[str], ExchangeGrant] | None = None,
        may_impersonate: Callable[[str | None], bool] = lambda identity: False,
    ) -> None:
        """``session_callers``: by a caller's identity, the identities whose sessions it may
        refresh and revoke by refresh token (its own and those sharing with it); None when
        sessions are not bound to the callers that created them."""
        self._manager = manager
        self._audit = audit or AuditLog()
        self._session_callers = session_callers
        self._exchange_grants = exchange_grants
        self._may_impersonate = may_impersonate

    def _callers(self) -> frozenset[str] | None:
        identity = current_caller.get()
        if identity is None or self._session_callers is None:
            return None  # no caller identity (no caller authentication): nothing to bind to
        return self._session_callers(identity)

    async def Create(self, request: pb.CreateRequest, context: Context) -> pb.CreateResponse:
        """Starts a session."""
        if request.impersonator and not self._may_impersonate(current_caller.get()):
            # The policy decides this already when there is one; without one nobody may.
            raise CallerNotAllowed("Create", "this caller may not open impersonation sessions")
        issued = await self._manager.create(
            convert.new_session_from_proto(request),
            dpop=convert.dpop_from_proto(request),
            caller=current_caller.get(),
        )
        session = issued.session
        self._audit.session_created(
            current_caller.get(), session.user_id, session.session_id, session.client_id
        )
        if session.impersonator:
            self._audit.impersonation_started(
                current_caller.get(),
                session.user_id,
                session.session_id,
                session.impersonator,
                session.absolute_expires_at_ms,
            )
        return convert.create_response(issued)

    async def Get(self, request: pb.GetRequest, context: Context) -> pb.GetResponse:
        """Reads a session, sliding its idle expiry."""
        session = await self._manager.get(request.session_id)
        return convert.get_response(session)

    async def Refresh(self, request: pb.RefreshRequest, context: Context) -> pb.RefreshResponse:
        """Rotates a refresh token."""
        issued = await self._manager.refresh(
            request.refresh_token,
            dpop=convert.dpop_from_proto(request),
            callers=self._callers(),
            client=convert.client_from_proto(request.client) if request.HasField("client") else None,
        )
        return convert.refresh_response(issued)

    async def Reauthenticate(
        self, request: pb.ReauthenticateRequest, context: Context
    ) -> pb.ReauthenticateResponse:
        """Records a new authentication and moves the session to a new id."""
        issued = await self._manager.reauthenticate(
            request.session_id,
            convert.authentication_from_proto(request),
            callers=self._callers(),
            dpop=convert.dpop_from_proto(request),
        )
        session = issued.session
        self._audit.session_reauthenticated(
            current_caller.get(), session.user_id, request.session_id, session.session_id, session.acr
        )
        return convert.reauthenticate_response(issued)

    async def Revoke(self, request: pb.RevokeRequest, context: Context) -> pb.RevokeResponse:
        """Ends sessions by id, token or user."""
        target = request.WhichOneof("target")
        if request.except_session_id and target != "user_id":
            raise InvalidArgument([FieldViolation("except_session_id", "only applies together with user_id")])
        given = convert.reason_from_proto(request.reason)
        if request.reason and given is None:
            raise InvalidArgument([FieldViolation("reason", "is not a RevocationReason")])
        if target == "session_id":
            ended = await self._manager.revoke_session(request.session_id, given)
            named = request.session_id
        elif target == "refresh_token":
            ended = await self._manager.revoke_refresh_token(request.refresh_token, given, self._callers())
            named = request.refresh_token  # the audit line keeps only its session id
        elif target == "access_token":
            ended = await self._manager.revoke_access_token(request.access_token, given)
            named = request.access_token  # the audit line keeps nothing of it
        elif target == "user_id":
            ended = await self._manager.revoke_user(request.user_id, request.except_session_id, given)
            named = request.user_id
        else:
            raise InvalidArgument(
                [FieldViolation("target", "set one of session_id, refresh_token, access_token, user_id")]
            )
        count = len(ended.session_ids)
        self._audit.sessions_revoked(current_caller.get(), target, named, count, ended.reason.value)
        return pb.RevokeResponse(revoked_count=count)

    async def Introspect(self, request: pb.IntrospectRequest, context: Context) -> pb.IntrospectResponse:
        """Reports whether a token is active."""
        result = await self._manager.introspect(request.token, request.token_type_hint, request.audience)
        return convert.introspection_to_proto(result)

    async def IntrospectBatch(
        self, request: pb.IntrospectBatchRequest, context: Context
    ) -> pb.IntrospectBatchResponse:
        """Reports whether each of many tokens is active, in order."""
        results = await self._manager.introspect_many(
            [(r.token, r.token_type_hint) for r in request.requests], [r.audience for r in request.requests]
        )
        return pb.IntrospectBatchResponse(responses=[convert.introspection_to_proto(r) for r in results])

    async def Update(self, request: pb.UpdateRequest, context: Context) -> pb.UpdateResponse:
        """Patches session data."""
        patch = DataPatch(dict(request.set), tuple(request.remove), request.expected_version)
        session = await self._manager.update(request.session_id, patch)
        return convert.update_response(session)

    async def List(self, request: pb.ListRequest, context: Context) -> pb.ListResponse:
        """Lists a user's live sessions."""
        sessions, next_token = await self._manager.list_sessions(
            request.user_id, request.page_size, request.page_token
        )
        return convert.list_response(sessions, next_token)

    async def Exchange(self, request: pb.ExchangeRequest, context: Context) -> pb.ExchangeResponse:
        """Trades an access token for a narrower one (RFC 8693)."""
        identity = current_caller.get()
        grants = self._exchange_grants
        actor = Actor(
            identity=identity,
            certificate_x5t=current_caller_certificate.get(),
            grant=grants(identity) if grants is not None and identity is not None else NO_EXCHANGE,
        )
        exchanged = await self._manager.exchange(convert.exchange_request_from_proto(request), actor)
        self._audit.token_exchanged(
            identity, exchanged.sub, exchanged.sid, exchanged.audience, exchanged.scopes
        )
        return convert.exchange_response(exchanged)

    async def GetJwks(self, request: pb.GetJwksRequest, context: Context) -> pb.GetJwksResponse:
        """Returns the verification keys."""
        return pb.GetJwksResponse(jwks_json=self._manager.jwks_json())

    async def WatchRevocations(
        self, request: pb.WatchRevocationsRequest, context: Context
    ) -> AsyncIterator[pb.WatchRevocationsResponse]:
        """Streams ended sessions from the request's cursor on."""
        async for batch in self._manager.watch_revocations(request.cursor):
            yield convert.revocation_batch_to_proto(batch)
