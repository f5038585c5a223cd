"""The README stays true: every setting is documented, the two commands come first."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from session_service.config import Settings

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_readme_documents_every_setting_with_its_default() -> None:
    for f in dataclasses.fields(Settings):
        row = next(
            (line for line in README.splitlines() if line.startswith(f"| `SESSION_{f.name.upper()}`")), ""
        )
        assert row, f"SESSION_{f.name.upper()} is missing from the README"
        default = f"`{f.default}`" if f.default != "" else "(empty)"
        assert default in row, f"README gives a wrong default for SESSION_{f.name.upper()}"


def test_readme_starts_with_the_run_and_test_commands() -> None:
    head = README.split("```")[1]
    assert "make run" in head and "make test" in head
