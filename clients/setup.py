"""Build script of sessionsvc-client: requires the wire contract by path from a clone,
never from an index (see ../setup.py for why)."""

from __future__ import annotations

import tomllib
from pathlib import Path

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

wire = (
    f"sessionsvc-wire @ {WIRE.as_uri()}"
    if (WIRE / "pyproject.toml").is_file()
    else f"sessionsvc-wire=={VERSION}"
)
setup(install_requires=[wire, *RUNTIME])
