"""Sessions and issued tokens as replies: the in-place writing of convert.py against the
mapping spelled out with the message constructors, field by field."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st
from session_wire.v1 import session_pb2 as pb

from session_service.domain.model import ClientInfo, IdpSession, IssuedTokens, Session
from session_service.transport import convert

_text = st.text(max_size=12)
_ms = st.integers(min_value=0, max_value=2**42)
_client = st.builds(ClientInfo, _text, _text, _text)
_sessions = st.builds(
    Session,
    session_id=_text,
    user_id=_text,
    created_at_ms=_ms,
    last_active_at_ms=_ms,
    idle_expires_at_ms=_ms,
    absolute_expires_at_ms=_ms,
    version=st.integers(min_value=0, max_value=2**40),
    data=st.dictionaries(_text, st.binary(max_size=8), max_size=3),
    claims=st.dictionaries(_text, _text, max_size=3),
    scopes=st.lists(_text, max_size=3).map(tuple),
    client=_client,
    client_id=_text,
    cnf_jkt=_text,
    idp=st.none() | st.builds(IdpSession, _text, _text, _text),
    acr=_text,
    amr=st.lists(_text, max_size=3).map(tuple),
    auth_time_ms=_ms,
    last_client=st.none() | _client,
    impersonator=_text,
)


def _timestamp(ms: int) -> Timestamp:
    return Timestamp(seconds=ms // 1000, nanos=ms % 1000 * 1_000_000)


def _client_info(c: ClientInfo) -> pb.ClientInfo:
    return pb.ClientInfo(ip=c.ip, user_agent=c.user_agent, device=c.device)


def _expected(s: Session) -> pb.Session:
    # The mapping as the proto documents it: every timestamp and the client always
    # present; the binding, operator, provider and last client only when the session has one.
    m = pb.Session(
        session_id=s.session_id,
        user_id=s.user_id,
        created_at=_timestamp(s.created_at_ms),
        last_active_at=_timestamp(s.last_active_at_ms),
        idle_expires_at=_timestamp(s.idle_expires_at_ms),
        absolute_expires_at=_timestamp(s.absolute_expires_at_ms),
        version=s.version,
        data=dict(s.data),
        claims=dict(s.claims),
        scopes=list(s.scopes),
        client=_client_info(s.client),
        client_id=s.client_id,
        acr=s.acr,
        amr=list(s.amr),
        auth_time=_timestamp(s.auth_time_ms or s.created_at_ms),
    )
    if s.cnf_jkt:
        m.cnf.CopyFrom(pb.Confirmation(jkt=s.cnf_jkt))
    if s.impersonator:
        m.impersonator = s.impersonator
    if s.idp is not None:
        m.idp.CopyFrom(pb.IdpSession(issuer=s.idp.issuer, subject=s.idp.subject, session_id=s.idp.session_id))
    if s.last_client is not None:
        m.last_client.CopyFrom(_client_info(s.last_client))
    return m


def _same(got: pb.Session, want: pb.Session) -> None:
    assert got == want
    # Equality ignores whether an all-default sub-message is present; the wire does not.
    present = {field.name for field, _ in got.ListFields()}
    assert present == {field.name for field, _ in want.ListFields()}
    assert {"created_at", "last_active_at", "idle_expires_at", "absolute_expires_at", "auth_time"} <= present
    assert got.SerializeToString(deterministic=True) == want.SerializeToString(deterministic=True)


@settings(max_examples=200)
@given(_sessions)
def test_a_session_is_written_as_the_constructors_would_build_it(s: Session) -> None:
    _same(convert.get_response(s).session, _expected(s))
    _same(convert.update_response(s).session, _expected(s))


@settings(max_examples=50)
@given(st.lists(_sessions, max_size=3), _text)
def test_a_page_of_sessions_keeps_their_order_and_its_token(sessions: list[Session], token: str) -> None:
    reply = convert.list_response(sessions, token)
    assert reply.next_page_token == token
    assert len(reply.sessions) == len(sessions)
    for got, s in zip(reply.sessions, sessions, strict=True):
        _same(got, _expected(s))


@settings(max_examples=50)
@given(_sessions, _text, _ms.map(lambda ms: ms // 1000), _text, _ms)
def test_issued_tokens_fill_create_refresh_and_reauthenticate_alike(
    s: Session, access: str, access_expiry_s: int, refresh: str, refresh_expiry_ms: int
) -> None:
    issued = IssuedTokens(s, access, access_expiry_s, refresh, refresh_expiry_ms)
    for reply in (
        convert.create_response(issued),
        convert.refresh_response(issued),
        convert.reauthenticate_response(issued),
    ):
        _same(reply.session, _expected(s))
        assert reply.access_token == access
        assert reply.refresh_token == refresh
        assert reply.HasField("access_token_expires_at")
        assert reply.HasField("refresh_token_expires_at")
        assert reply.access_token_expires_at.ToMilliseconds() == access_expiry_s * 1000
        assert reply.refresh_token_expires_at.ToMilliseconds() == refresh_expiry_ms
