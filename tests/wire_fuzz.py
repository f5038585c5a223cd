"""Wire-level fuzzing of every RPC: valid requests mutated at the byte level.

Shared by the bounded run in tests/integration/test_wire_fuzz.py and the longer one in
bench/fuzz_wire.py. Each case is the method and the raw request bytes sent on a real
channel; nothing is parsed on the client side, so the server sees exactly these bytes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import grpc
from session_wire.v1 import session_pb2 as pb

STREAMING = ("WatchRevocations",)


def seeds() -> dict[str, list[bytes]]:
    """Well-formed requests of every RPC, to mutate."""
    sid = "AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB"
    requests: dict[str, list[Any]] = {
        "Create": [
            pb.CreateRequest(
                user_id="fuzz",
                claims={"tenant": "acme"},
                data={"cart": b"3"},
                scopes=["read", "write"],
                client=pb.ClientInfo(ip="10.0.0.1", user_agent="ua", device="phone"),
                client_id="web",
            ),
            pb.CreateRequest(user_id="x"),
            pb.CreateRequest(
                user_id="y",
                acr="mfa",
                amr=["pwd", "otp"],
                idp=pb.IdpSession(issuer="https://idp.example", subject="s", session_id="i"),
                dpop=pb.DpopProof(proof="eyJ.e30.x", http_method="POST", http_uri="https://a.example/login"),
            ),
        ],
        "Get": [pb.GetRequest(session_id=sid)],
        "Refresh": [pb.RefreshRequest(refresh_token=sid + "." + "C" * 43)],
        "Revoke": [
            pb.RevokeRequest(session_id=sid),
            pb.RevokeRequest(user_id="fuzz", except_session_id=sid),
            pb.RevokeRequest(access_token="eyJhbGciOiJFZERTQSJ9.e30.sig"),
        ],
        "Introspect": [pb.IntrospectRequest(token="eyJ.e30.x", token_type_hint="access_token")],
        "IntrospectBatch": [
            pb.IntrospectBatchRequest(
                requests=[pb.IntrospectRequest(token="eyJ.e30.x"), pb.IntrospectRequest(token=sid + ".x")]
            )
        ],
        "Update": [pb.UpdateRequest(session_id=sid, set={"k": b"v"}, remove=["old"], expected_version=2)],
        "List": [pb.ListRequest(user_id="fuzz", page_size=5, page_token="cDE6YWJjOmRlZg")],
        "GetJwks": [pb.GetJwksRequest()],
        "WatchRevocations": [pb.WatchRevocationsRequest(cursor="1700000000000-0")],
        "Exchange": [
            pb.ExchangeRequest(subject_token="eyJ.e30.x", audience="orders", scopes=["read"], ttl_seconds=60),
            pb.ExchangeRequest(subject_token="eyJ.e30.x", audience="a", bind_to_caller_certificate=True),
        ],
        "Reauthenticate": [pb.ReauthenticateRequest(session_id=sid, acr="mfa", amr=["hwk"])],
    }
    return {method: [m.SerializeToString() for m in messages] for method, messages in requests.items()}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, wire_type: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire_type) + payload


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One byte-level mutation of a serialized request."""
    op = rng.randrange(9)
    if op == 0 and data:  # flip a bit
        i = rng.randrange(len(data))
        return data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :]
    if op == 1 and data:  # truncate
        return data[: rng.randrange(len(data))]
    if op == 2:  # a known field with invalid UTF-8 where a string is expected
        return data + _field(rng.choice((1, 2, 3, 4, 5, 6)), 2, _varint(4) + b"\xff\xfe\xc0\x80")
    if op == 3:  # a known field number with the wrong wire type
        wire_type = rng.choice((0, 1, 5))
        payload = {0: _varint(rng.getrandbits(63)), 1: rng.randbytes(8), 5: rng.randbytes(4)}[wire_type]
        return data + _field(rng.randrange(1, 10), wire_type, payload)
    if op == 4:  # a length prefix that claims more bytes than follow
        return data + _field(rng.randrange(1, 10), 2, _varint(rng.randrange(1, 1 << 30)) + b"abc")
    if op == 5:  # an oversized string field (past the service's input limits)
        return data + _field(rng.randrange(1, 7), 2, _varint(70_000) + b"A" * 70_000)
    if op == 6:  # unknown fields and groups
        return data + _field(rng.randrange(100, 10_000), rng.choice((0, 2, 3, 4)), rng.randbytes(6))
    if op == 7 and len(data) > 1:  # splice two halves in the wrong order
        i = rng.randrange(1, len(data))
        return data[i:] + data[:i]
    return rng.randbytes(rng.randrange(0, 256))  # plain noise


def cases(rng: random.Random, count: int) -> Iterator[tuple[str, bytes]]:
    """``count`` mutated requests spread over every RPC (one or more mutations each)."""
    all_seeds = seeds()
    methods = sorted(all_seeds)
    for n in range(count):
        method = methods[n % len(methods)]
        data = rng.choice(all_seeds[method])
        for _ in range(rng.randrange(1, 4)):
            data = mutate(data, rng)
        yield method, data


BAD = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}


async def send(channel: grpc.aio.Channel, method: str, body: bytes) -> grpc.StatusCode:
    """Sends raw bytes; the status the call ends with (OK for a stream that answered)."""
    path = f"/session.v1.SessionService/{method}"
    try:
        if method in STREAMING:
            stream: Any = channel.unary_stream(path)
            call = stream(body, timeout=5)
            await call.read()  # the first response (the replay) or the error
            call.cancel()
        else:
            unary: Any = channel.unary_unary(path)
            await unary(body, timeout=5)
    except grpc.aio.AioRpcError as e:
        return e.code()
    return grpc.StatusCode.OK
