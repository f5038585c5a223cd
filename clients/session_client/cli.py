"""``sessionctl``: calls every SessionService RPC from a shell and prints the reply as JSON:
every field (zero values too), numbers as numbers, session data as text."""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import grpc
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

from session_client.client import is_local_target
from session_client.status import error_details


def _pairs(values: Sequence[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"sessionctl: {what} must be KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sessionctl", description="Call session-service from a shell.")
    p.add_argument(
        "--target",
        default=os.environ.get("SESSION_TARGET", "127.0.0.1:50051"),
        help="host:port of the service [env SESSION_TARGET]",
    )
    p.add_argument("--timeout", type=float, default=5.0, help="deadline in seconds")
    tls = p.add_argument_group("TLS and caller credentials")
    tls.add_argument(
        "--ca",
        default=os.environ.get("SESSION_CA_FILE"),
        help="CA that verifies the service (TLS) [env SESSION_CA_FILE]",
    )
    tls.add_argument(
        "--cert",
        default=os.environ.get("SESSION_CERT_FILE"),
        help="client certificate (mTLS) [env SESSION_CERT_FILE]",
    )
    tls.add_argument(
        "--key",
        default=os.environ.get("SESSION_KEY_FILE"),
        help="client certificate's key [env SESSION_KEY_FILE]",
    )
    tls.add_argument("--server-name", default=None, help="name to expect in the service's certificate")
    tls.add_argument(
        "--insecure",
        action="store_true",
        help="allow plaintext to a target that is not loopback or a Unix socket (tokens cross "
        "the network readable)",
    )
    tls.add_argument(
        "--caller-token-file",
        default=os.environ.get("SESSION_CALLER_TOKEN_FILE"),
        help="file holding a caller JWT, sent as authorization: Bearer [env SESSION_CALLER_TOKEN_FILE]",
    )
    cmd = p.add_subparsers(dest="command", required=True)
    c = cmd.add_parser("create", help="start a session")
    c.add_argument("user_id")
    c.add_argument("--claim", action="append", help="extra access-token claim KEY=VALUE")
    c.add_argument("--data", action="append", help="session data KEY=VALUE")
    c.add_argument("--scope", action="append", help="granted scope")
    c.add_argument("--client-id", default="")
    c.add_argument("--ip", default="")
    c.add_argument("--user-agent", default="")
    c.add_argument("--device", default="")
    _authentication_arguments(c)
    cmd.add_parser("get", help="read a session").add_argument("session_id")
    f = cmd.add_parser("refresh", help="rotate a refresh token")
    f.add_argument("refresh_token")
    f.add_argument("--ip", default="", help="the refreshing client's IP address")
    f.add_argument("--user-agent", default="", help="the refreshing client's User-Agent")
    f.add_argument("--device", default="")
    a = cmd.add_parser(
        "reauthenticate", help="record a new authentication; the session moves to a new id and new tokens"
    )
    a.add_argument("session_id")
    _authentication_arguments(a)
    r = cmd.add_parser("revoke", help="end sessions")
    target = r.add_mutually_exclusive_group(required=True)
    target.add_argument("--session-id")
    target.add_argument("--refresh-token")
    target.add_argument("--access-token")
    target.add_argument("--user-id")
    r.add_argument("--except-session-id", default="")
    i = cmd.add_parser("introspect", help="is a token active? (several tokens: one IntrospectBatch call)")
    i.add_argument("token", nargs="+")
    i.add_argument("--hint", default="", choices=("", "access_token", "refresh_token"))
    i.add_argument("--audience", default="", help="the audience the token must be for (default: its own)")
    x = cmd.add_parser("exchange", help="trade an access token for a narrower one (RFC 8693)")
    x.add_argument("subject_token")
    x.add_argument("audience", help="the one audience of the new token")
    x.add_argument("--scope", action="append", help="a scope of the new token (default: all the subject's)")
    x.add_argument("--ttl", type=int, default=0, help="seconds of life (0: the longest allowed)")
    x.add_argument(
        "--bind-to-caller-certificate", action="store_true", help="bind the token to --cert (RFC 8705)"
    )
    u = cmd.add_parser("update", help="patch session data")
    u.add_argument("session_id")
    u.add_argument("--set", action="append", help="KEY=VALUE")
    u.add_argument("--remove", action="append", default=[])
    u.add_argument("--expected-version", type=int, default=0)
    ls = cmd.add_parser("list", help="a user's sessions (every page, unless --page-token)")
    ls.add_argument("user_id")
    ls.add_argument("--page-size", type=int, default=0, help="sessions per page (0: the service's default)")
    ls.add_argument("--page-token", default="", help="continue after this page; prints one page only")
    cmd.add_parser("jwks", help="the verification keys")
    return p


def _authentication_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--acr", default="", help="how the user authenticated (acr), e.g. mfa")
    p.add_argument("--amr", action="append", help="an authentication method (RFC 8176), e.g. pwd, otp, hwk")
    p.add_argument(
        "--auth-time",
        type=int,
        default=None,
        help="when the user authenticated, epoch seconds (default: now)",
    )


def _auth_time(seconds: int | None) -> Timestamp | None:
    return Timestamp(seconds=seconds) if seconds is not None else None


def _request(args: argparse.Namespace) -> tuple[str, Any]:
    if args.command == "create":
        return "Create", pb.CreateRequest(
            user_id=args.user_id,
            claims=_pairs(args.claim, "--claim"),
            data={k: v.encode() for k, v in _pairs(args.data, "--data").items()},
            scopes=args.scope or [],
            client_id=args.client_id,
            client=pb.ClientInfo(ip=args.ip, user_agent=args.user_agent, device=args.device),
            acr=args.acr,
            amr=args.amr or [],
            auth_time=_auth_time(args.auth_time),
        )
    if args.command == "get":
        return "Get", pb.GetRequest(session_id=args.session_id)
    if args.command == "refresh":
        client = pb.ClientInfo(ip=args.ip, user_agent=args.user_agent, device=args.device)
        return "Refresh", pb.RefreshRequest(
            refresh_token=args.refresh_token, client=client if client.ByteSize() else None
        )
    if args.command == "reauthenticate":
        return "Reauthenticate", pb.ReauthenticateRequest(
            session_id=args.session_id, acr=args.acr, amr=args.amr or [], auth_time=_auth_time(args.auth_time)
        )
    if args.command == "revoke":
        fields = {k: getattr(args, k) for k in ("session_id", "refresh_token", "access_token", "user_id")}
        chosen = {k: v for k, v in fields.items() if v is not None}
        return "Revoke", pb.RevokeRequest(except_session_id=args.except_session_id, **chosen)
    if args.command == "introspect":
        if len(args.token) > 1:
            requests = [
                pb.IntrospectRequest(token=t, token_type_hint=args.hint, audience=args.audience)
                for t in args.token
            ]
            return "IntrospectBatch", pb.IntrospectBatchRequest(requests=requests)
        return "Introspect", pb.IntrospectRequest(
            token=args.token[0], token_type_hint=args.hint, audience=args.audience
        )
    if args.command == "exchange":
        return "Exchange", pb.ExchangeRequest(
            subject_token=args.subject_token,
            audience=args.audience,
            scopes=args.scope or [],
            ttl_seconds=args.ttl,
            bind_to_caller_certificate=args.bind_to_caller_certificate,
        )
    if args.command == "update":
        sets = {k: v.encode() for k, v in _pairs(args.set, "--set").items()}
        return "Update", pb.UpdateRequest(
            session_id=args.session_id, set=sets, remove=args.remove, expected_version=args.expected_version
        )
    if args.command == "list":
        return "List", pb.ListRequest(
            user_id=args.user_id, page_size=args.page_size, page_token=args.page_token
        )
    return "GetJwks", pb.GetJwksRequest()


def _channel(args: argparse.Namespace) -> grpc.Channel:
    if not (args.ca or args.cert):
        return grpc.insecure_channel(args.target)

    def read(path: str | None) -> bytes | None:
        return Path(path).read_bytes() if path else None

    credentials = grpc.ssl_channel_credentials(read(args.ca), read(args.key), read(args.cert))
    options = [("grpc.ssl_target_name_override", args.server_name)] if args.server_name else []
    return grpc.secure_channel(args.target, credentials, options=options)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; prints the reply, or the error's code and reason on stderr (exit 1)."""
    args = _parser().parse_args(argv)
    if not (args.ca or args.cert or args.insecure or is_local_target(args.target)):
        # As SessionClient refuses without insecure=True: the reply holds tokens.
        print(
            f"sessionctl: refusing a plaintext channel to {args.target!r}: give --ca (and --cert, "
            "--key for mTLS), or --insecure to allow plaintext to a non-loopback target",
            file=sys.stderr,
        )
        return 2
    method, request = _request(args)
    metadata: list[tuple[str, str]] = []
    if args.caller_token_file:
        metadata.append(("authorization", "Bearer " + Path(args.caller_token_file).read_text().strip()))
    with _channel(args) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        try:
            reply = getattr(stub, method)(request, timeout=args.timeout, metadata=metadata)
            if method == "List" and not args.page_token:
                # Without a page token: follow every page and print them as one list.
                while reply.next_page_token:
                    request.page_token = reply.next_page_token
                    more = stub.List(request, timeout=args.timeout, metadata=tuple(metadata))
                    reply.sessions.extend(more.sessions)
                    reply.next_page_token = more.next_page_token
        except grpc.RpcError as e:
            d = error_details(e)
            body = {"code": d.code.name, "reason": d.reason, "message": d.message}
            if d.field_violations:
                body["field_violations"] = d.field_violations  # type: ignore[assignment]
            print(json.dumps(body, indent=2), file=sys.stderr)
            return 1
    print(json.dumps(printable(reply), indent=2, ensure_ascii=False))
    return 0


def printable(reply: Message) -> Any:
    """A reply as the JSON sessionctl prints: every field, zero values included, numbers as
    numbers, session data as text (``{"base64": ...}`` when it is not UTF-8), and the JWKS
    as the JSON document it is."""
    if isinstance(reply, pb.GetJwksResponse):
        return json.loads(reply.jwks_json)
    fields = json_format.MessageToDict(
        reply, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    # upb's Descriptor (the runtime's) has the same interface as the pure-Python one.
    return _typed(cast(Descriptor, reply.DESCRIPTOR).fields, fields)


# proto3 JSON writes these as strings (a JavaScript number cannot hold every int64).
_INT64 = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED64,
}


def _typed(declared: Sequence[FieldDescriptor], fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` (MessageToDict's output for a message that declares ``declared``) with
    int64 and bytes values made readable, nested messages included."""
    for field in declared:
        if field.name not in fields:
            continue
        value = fields[field.name]
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            fields[field.name] = {k: _scalar(value_field, v) for k, v in value.items()}
        elif field.is_repeated:
            fields[field.name] = [_scalar(field, v) for v in value]
        else:
            fields[field.name] = _scalar(field, value)
    return fields


def _scalar(field: FieldDescriptor, value: Any) -> Any:
    if field.message_type is not None:
        if field.message_type.full_name.startswith("google.protobuf."):
            return value  # well-known types have their own JSON form (a Timestamp: RFC 3339)
        return _typed(field.message_type.fields, value)
    if field.type in _INT64:
        return int(value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        raw = base64.b64decode(value)
        try:
            return raw.decode()
        except UnicodeDecodeError:
            return {"base64": value}
    return value


if __name__ == "__main__":
    raise SystemExit(main())
