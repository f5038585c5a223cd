"""What sessionctl prints: JSON a reader takes as it is meant."""

from __future__ import annotations

import json

from google.protobuf.timestamp_pb2 import Timestamp
from session_client.cli import printable
from session_wire.v1 import session_pb2 as pb


def test_numbers_print_as_numbers_and_zero_values_are_printed() -> None:
    assert printable(pb.RevokeResponse(revoked_count=1)) == {"revoked_count": 1}
    assert printable(pb.RevokeResponse()) == {"revoked_count": 0}
    inactive = printable(pb.IntrospectResponse())
    assert inactive["active"] is False and inactive["exp"] == 0 and inactive["sub"] == ""


def test_session_data_prints_as_text_or_as_marked_base64() -> None:
    session = pb.Session(
        session_id="s",
        version=3,
        data={"cart": b"3", "name": "Zoë".encode(), "blob": b"\xff\x00"},
        created_at=Timestamp(seconds=1_767_323_045),
    )
    out = printable(pb.GetResponse(session=session))["session"]
    assert out["version"] == 3
    assert out["data"] == {"cart": "3", "name": "Zoë", "blob": {"base64": "/wA="}}
    # Well-known types keep their JSON form.
    assert out["created_at"] == "2026-01-02T03:04:05Z"
    assert out["scopes"] == [] and out["claims"] == {}


def test_nested_and_repeated_messages_are_converted_too() -> None:
    batch = pb.IntrospectBatchResponse(
        responses=[pb.IntrospectResponse(active=True, exp=1_767_323_045), pb.IntrospectResponse()]
    )
    answers = printable(batch)["responses"]
    assert answers[0]["exp"] == 1_767_323_045 and answers[1]["active"] is False
    listed = printable(pb.ListResponse(sessions=[pb.Session(version=2, data={"k": b"v"})]))
    assert listed["sessions"][0]["version"] == 2 and listed["sessions"][0]["data"] == {"k": "v"}


def test_the_jwks_prints_as_the_json_document_it_is() -> None:
    jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": "abc"}]}
    assert printable(pb.GetJwksResponse(jwks_json=json.dumps(jwks))) == jwks
