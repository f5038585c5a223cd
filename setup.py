"""Build script of sessionsvc-server, for the one dependency pyproject.toml cannot state:
the wire contract, by path from a clone (clients/build_backend.py says when and why)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from build_backend import wire_requirement  # clients/, the build backend's folder
from setuptools import setup

HERE = Path(__file__).resolve().parent
WIRE = HERE / "wire"
VERSION = tomllib.loads((HERE / "pyproject.toml").read_text())["project"]["version"]

RUNTIME = [
    "grpcio>=1.85.1,<2",
    "grpcio-health-checking>=1.85.1,<2",
    "grpcio-reflection>=1.85.1,<2",
    "grpcio-status>=1.85.1,<2",
    "protobuf>=7.35.1,<8",
    # Public APIs only: redis-py's asyncio clients (paths off the lane), redis.exceptions
    # and redis.crc; the lane (store/lane.py) parses and packs with hiredis itself.
    "redis[hiredis]>=8.1,<9",
    "hiredis>=3.0,<4",
    "pyjwt[crypto]>=2.10,<3",
    "cryptography>=44",
    # Observability (session_service/telemetry.py, metrics.py).
    "opentelemetry-sdk>=1.45,<2",
    "opentelemetry-exporter-otlp-proto-grpc>=1.45,<2",
    "opentelemetry-exporter-otlp-proto-http>=1.45,<2",
    "opentelemetry-instrumentation-redis>=0.66b0",
    "prometheus-client>=0.20",
    "wrapt>=1.14",
    # Reloading rotated certificates, caller keys and the policy (security/reload.py).
    "watchfiles>=1.0,<2",
    # The authorization policy may be YAML (security/policy.py).
    "pyyaml>=6.0,<7",
    # The HTTP forward-auth endpoint for nginx, Traefik and Caddy (transport/forward_auth.py).
    "aiohttp>=3.11,<4",
]

setup(install_requires=[wire_requirement(WIRE, VERSION), *RUNTIME])
