"""The build backend of sessionsvc-client and sessionsvc-server: setuptools', plus how
they require the wire contract (sessionsvc-wire), this repository's own distribution.

Built from a clone, a wheel requires the wire contract by path
(``sessionsvc-wire @ file:///…/wire``), so pip never looks it up on a package index,
where anyone could publish that name. Built from an sdist without the clone beside it,
it pins exactly its own version, for an index you run.

An editable install pins the version too. pip takes ``-e ./wire`` and a dependency on
the same folder by path for two different things, and refuses the developer install
``pip install -e ./wire -e ./clients -e .`` as a conflict; a pin is satisfied by the
editable wire. (``pip install -e ./clients`` without ``-e ./wire`` beside it, or already
installed, would look the pin up on the index: install the three together.)

setuptools prepares the metadata of a wheel and of an editable install alike, so the
editable hooks below say which one it is before handing over.
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import build_meta
from setuptools.build_meta import (
    build_sdist,
    build_wheel,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_wheel,
)

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
    "wire_requirement",
]

_EDITABLE = "SESSIONSVC_EDITABLE_BUILD"


def wire_requirement(wire: Path, version: str) -> str:
    """The requirement on the wire contract for a distribution of ``version`` whose clone
    keeps the wire contract in ``wire``: by path, or a version pin (see the module)."""
    if (wire / "pyproject.toml").is_file() and os.environ.get(_EDITABLE) != "1":
        return f"sessionsvc-wire @ {wire.resolve().as_uri()}"
    return f"sessionsvc-wire=={version}"


def prepare_metadata_for_build_editable(
    metadata_directory: str, config_settings: dict[str, object] | None = None
) -> str:
    """setuptools' hook, building an editable install's metadata."""
    os.environ[_EDITABLE] = "1"
    return str(build_meta.prepare_metadata_for_build_editable(metadata_directory, config_settings))


def build_editable(
    wheel_directory: str,
    config_settings: dict[str, object] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """setuptools' hook, building an editable install."""
    os.environ[_EDITABLE] = "1"
    return str(build_meta.build_editable(wheel_directory, config_settings, metadata_directory))
