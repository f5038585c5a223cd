"""Proto messages to and from domain values; no logic beyond the mapping."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp
from session_wire.delegation import ACCESS_TOKEN_TYPE
from session_wire.dpop import HttpProof
from session_wire.v1 import session_pb2 as pb

from session_service.domain.assurance import Authentication
from session_service.domain.delegation import Exchanged, ExchangeRequest
from session_service.domain.model import (
    ClientInfo,
    IdpSession,
    Introspection,
    IssuedTokens,
    NewSession,
    RevocationReason,
    Session,
)
from session_service.domain.ports import RevocationBatch


def timestamp(ms: int) -> Timestamp:
    """A protobuf Timestamp from milliseconds since the epoch."""
    return Timestamp(seconds=ms // 1000, nanos=(ms % 1000) * 1_000_000)


def fill_session(m: pb.Session, s: Session) -> None:
    """Writes ``s`` into ``m``, an empty Session (a reply's own field).

    Every field is written in place, one by one: a sub-message or map handed to a
    constructor is copied, and a map goes through Python's MutableMapping.update; writing
    into the reply's own field instead costs about two thirds (this runs for every session
    a Get, Update, List, Create or Refresh returns)."""
    m.session_id, m.user_id, m.version, m.client_id = s.session_id, s.user_id, s.version, s.client_id
    m.scopes.extend(s.scopes)
    data, claims = m.data, m.claims
    for key, value in s.data.items():
        data[key] = value
    for name, text in s.claims.items():
        claims[name] = text
    for field, ms in (
        (m.created_at, s.created_at_ms),
        (m.last_active_at, s.last_active_at_ms),
        (m.idle_expires_at, s.idle_expires_at_ms),
        (m.absolute_expires_at, s.absolute_expires_at_ms),
    ):
        field.seconds, field.nanos = ms // 1000, ms % 1000 * 1_000_000
    client = m.client
    client.ip, client.user_agent, client.device = s.client.ip, s.client.user_agent, s.client.device
    if s.cnf_jkt:
        m.cnf.jkt = s.cnf_jkt
    if s.impersonator:
        m.impersonator = s.impersonator
    if s.idp is not None:
        m.idp.issuer, m.idp.subject, m.idp.session_id = s.idp.issuer, s.idp.subject, s.idp.session_id
    if (seen := s.last_client) is not None:
        last = m.last_client
        last.ip, last.user_agent, last.device = seen.ip, seen.user_agent, seen.device
    m.acr = s.acr
    m.amr.extend(s.amr)
    auth_time = s.auth_time_ms or s.created_at_ms
    m.auth_time.seconds, m.auth_time.nanos = auth_time // 1000, auth_time % 1000 * 1_000_000


def get_response(s: Session) -> pb.GetResponse:
    """Get's reply."""
    reply = pb.GetResponse()
    fill_session(reply.session, s)
    return reply


def update_response(s: Session) -> pb.UpdateResponse:
    """Update's reply."""
    reply = pb.UpdateResponse()
    fill_session(reply.session, s)
    return reply


def list_response(sessions: Sequence[Session], next_page_token: str) -> pb.ListResponse:
    """List's reply: one page of sessions."""
    reply = pb.ListResponse(next_page_token=next_page_token)
    for s in sessions:
        fill_session(reply.sessions.add(), s)
    return reply


def new_session_from_proto(r: pb.CreateRequest) -> NewSession:
    """The domain form of a Create request."""
    return NewSession(
        user_id=r.user_id,
        claims=dict(r.claims),
        data=dict(r.data),
        scopes=tuple(r.scopes),
        client=ClientInfo(ip=r.client.ip, user_agent=r.client.user_agent, device=r.client.device),
        client_id=r.client_id,
        idp=IdpSession(r.idp.issuer, r.idp.subject, r.idp.session_id) if r.HasField("idp") else None,
        acr=r.acr,
        amr=tuple(r.amr),
        auth_time_ms=_optional_ms(r, "auth_time"),
        impersonator=r.impersonator,
    )


def _optional_ms(message: Any, field: str) -> int:
    """A Timestamp field in milliseconds; 0 when unset (one before the epoch is negative:
    the domain refuses it)."""
    if not message.HasField(field):
        return 0
    ts = getattr(message, field)
    return int(ts.seconds) * 1000 + int(ts.nanos) // 1_000_000


def client_from_proto(c: pb.ClientInfo) -> ClientInfo:
    """The domain form of a ClientInfo."""
    return ClientInfo(ip=c.ip, user_agent=c.user_agent, device=c.device)


def authentication_from_proto(r: pb.ReauthenticateRequest) -> Authentication:
    """The authentication a Reauthenticate request records."""
    return Authentication(acr=r.acr, amr=tuple(r.amr), auth_time_ms=_optional_ms(r, "auth_time"))


def dpop_from_proto(r: pb.CreateRequest | pb.RefreshRequest | pb.ReauthenticateRequest) -> HttpProof | None:
    """The DPoP proof a Create or Refresh carries, with its request; None without one."""
    if not r.HasField("dpop"):
        return None
    return HttpProof(proof=r.dpop.proof, method=r.dpop.http_method, uri=r.dpop.http_uri)


_Issued = TypeVar("_Issued", pb.CreateResponse, pb.RefreshResponse, pb.ReauthenticateResponse)


def _issued(reply: _Issued, t: IssuedTokens) -> _Issued:
    reply.access_token, reply.refresh_token = t.access_token, t.refresh_token
    at_expiry, rt_expiry = t.access_token_expires_at * 1000, t.refresh_token_expires_at_ms
    reply.access_token_expires_at.seconds, reply.access_token_expires_at.nanos = _seconds_nanos(at_expiry)
    reply.refresh_token_expires_at.seconds, reply.refresh_token_expires_at.nanos = _seconds_nanos(rt_expiry)
    fill_session(reply.session, t.session)
    return reply


def _seconds_nanos(ms: int) -> tuple[int, int]:
    # A Timestamp's seconds and nanos from milliseconds since the epoch.
    return ms // 1000, ms % 1000 * 1_000_000


def create_response(t: IssuedTokens) -> pb.CreateResponse:
    """Create's reply."""
    return _issued(pb.CreateResponse(), t)


def refresh_response(t: IssuedTokens) -> pb.RefreshResponse:
    """Refresh's reply (the same fields as Create's)."""
    return _issued(pb.RefreshResponse(), t)


def reauthenticate_response(t: IssuedTokens) -> pb.ReauthenticateResponse:
    """Reauthenticate's reply (the same fields as Refresh's)."""
    return _issued(pb.ReauthenticateResponse(), t)


def introspection_to_proto(i: Introspection) -> pb.IntrospectResponse:
    """Introspect's reply."""
    m = pb.IntrospectResponse(
        active=i.active,
        sub=i.sub,
        sid=i.sid,
        scope=i.scope,
        client_id=i.client_id,
        token_type=i.token_type,
        exp=i.exp,
        iat=i.iat,
        nbf=i.nbf,
        iss=i.iss,
        aud=i.aud,
        jti=i.jti,
    )
    if i.cnf_jkt:
        m.cnf.jkt = i.cnf_jkt
    if i.cnf_x5t:
        m.cnf.x5t_s256 = i.cnf_x5t
    if i.act:
        m.act = i.act
    m.acr, m.auth_time = i.acr, i.auth_time
    m.amr.extend(i.amr)
    return m


def exchange_request_from_proto(r: pb.ExchangeRequest) -> ExchangeRequest:
    """The domain form of an Exchange request."""
    return ExchangeRequest(
        subject_token=r.subject_token,
        audience=r.audience,
        scopes=tuple(r.scopes),
        ttl_seconds=r.ttl_seconds,
        bind_to_caller_certificate=r.bind_to_caller_certificate,
    )


def exchange_response(e: Exchanged) -> pb.ExchangeResponse:
    """Exchange's reply."""
    return pb.ExchangeResponse(
        access_token=e.access_token,
        expires_at=timestamp(e.expires_at * 1000),
        audience=e.audience,
        scopes=e.scopes,
        issued_token_type=ACCESS_TOKEN_TYPE,
    )


def revocation_batch_to_proto(batch: RevocationBatch) -> pb.WatchRevocationsResponse:
    """The wire form of a step of a revocation watch."""
    return pb.WatchRevocationsResponse(
        revocations=[
            pb.Revocation(
                session_ids=list(r.session_ids),
                revoked_at=timestamp(r.revoked_at_ms),
                expires_at=timestamp(r.expires_at_ms),
                reason=reason_to_proto(r.reason),
            )
            for r in batch.revocations
        ],
        cursor=batch.cursor,
        cursor_reset=batch.cursor_reset,
        caught_up=batch.caught_up,
    )


_REASON_PREFIX = "REVOCATION_REASON_"


def reason_to_proto(reason: RevocationReason | None) -> pb.RevocationReason.ValueType:
    """The wire value of a revocation reason (UNSPECIFIED for None)."""
    name = "UNSPECIFIED" if reason is None else reason.name
    return pb.RevocationReason.Value(_REASON_PREFIX + name)


def reason_from_proto(value: int) -> RevocationReason | None:
    """The domain reason of a wire value; None for UNSPECIFIED or a value this build does not know."""
    try:
        name = pb.RevocationReason.Name(value)  # type: ignore[arg-type]
    except ValueError:
        return None
    return RevocationReason.__members__.get(name.removeprefix(_REASON_PREFIX))
