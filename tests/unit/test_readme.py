"""The README stays a first look: the two commands first, short, and its links lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).parents[2]
README = (REPO / "README.md").read_text()


def test_readme_starts_with_the_run_and_test_commands() -> None:
    head = README.split("```")[1]
    assert "make run" in head and "make test" in head


def test_readme_is_read_in_minutes() -> None:
    assert len(README.splitlines()) <= 200


def test_readme_links_lead_to_files_of_the_repository() -> None:
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    assert any(t.startswith("docs/") for t in targets)
    for target in targets:
        if "://" not in target:
            assert (REPO / target).exists(), f"the README links to {target}, which does not exist"
