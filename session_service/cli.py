"""The ``session-service`` command: serve, healthcheck, generate-key."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from session_service.config import Settings, add_flags
from session_service.errors import ConfigError


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="session-service", description="gRPC session service")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gRPC server")
    add_flags(serve)
    check = commands.add_parser("healthcheck", help="exit 0 when the server reports SERVING")
    check.add_argument("--target", default="", help="host:port (default 127.0.0.1:$SESSION_PORT)")
    check.add_argument("--timeout", type=float, default=3.0, help="seconds to wait")
    keygen = commands.add_parser("generate-key", help="write a new private signing key as <kid>.pem")
    keygen.add_argument("--algorithm", choices=("EdDSA", "ES256", "RS256"), default="EdDSA")
    keygen.add_argument("--kid", required=True, help="key id; the file is <dir>/<kid>.pem")
    keygen.add_argument("--dir", type=Path, required=True, help="folder to write the key into")
    args = parser.parse_args(argv)

    if args.command == "serve":
        return _serve(argv)
    if args.command == "healthcheck":
        target = args.target or f"127.0.0.1:{os.environ.get('SESSION_PORT', '50051')}"
        return _healthcheck(target, args.timeout)
    return _generate_key(args.algorithm, args.kid, args.dir)


def _serve(argv: Sequence[str] | None) -> int:
    flags = list(argv if argv is not None else sys.argv[1:])[1:]
    try:
        settings = Settings.from_sources(os.environ, flags)
    except ConfigError as e:
        print(f"session-service: invalid configuration: {e}", file=sys.stderr)
        return 2
    from session_service.app import run_event_loop, serve
    from session_service.telemetry import configure_logging

    configure_logging(settings.log_level)

    try:
        if settings.workers > 1:
            from session_service import workers

            return workers.run(settings)
        run_event_loop(serve(settings))
    except ConfigError as e:
        print(f"session-service: invalid configuration: {e}", file=sys.stderr)
        return 2
    return 0


def _healthcheck(target: str, timeout: float) -> int:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout
            )
        except grpc.RpcError as e:
            print(f"unhealthy: {e.code().name}", file=sys.stderr)
            return 1
    serving = reply.status == health_pb2.HealthCheckResponse.SERVING
    print("SERVING" if serving else health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
    return 0 if serving else 1


def _generate_key(algorithm: str, kid: str, folder: Path) -> int:
    from cryptography.hazmat.primitives import serialization

    from session_service.tokens.keyring import new_private_key

    key = new_private_key(algorithm)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kid}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
