"""Build script of sessionsvc-client, for the one dependency pyproject.toml cannot state:
the wire contract, by path from a clone (build_backend.py says when and why)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from build_backend import wire_requirement
from setuptools import setup

HERE = Path(__file__).resolve().parent
WIRE = HERE.parent / "wire"
VERSION = tomllib.loads((HERE / "pyproject.toml").read_text())["project"]["version"]

RUNTIME = [
    "grpcio>=1.85.1,<2",
    "grpcio-status>=1.85.1,<2",
    "protobuf>=7.35.1,<8",
    "googleapis-common-protos>=1.66,<2",
    # The local Verifier (EdDSA needs the cryptography extra).
    "pyjwt[crypto]>=2.10,<3",
]

setup(install_requires=[wire_requirement(WIRE, VERSION), *RUNTIME])
