"""docs/ stays true to the code: every setting documented once, in its group's table,
with its default and meaning; no variable documented that nothing reads; links that
lead to existing files and headings."""

from __future__ import annotations

import dataclasses
import re
import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from session_service.config import ENV_PREFIX, GROUPS, Settings, group_of

REPO = Path(__file__).parents[2]
DOCS = REPO / "docs"
CONFIGURATION = (DOCS / "configuration.md").read_text()
GENERATOR = runpy.run_path(str(REPO / "scripts" / "gen-config-docs.py"))
with_tables: Callable[[str], str] = GENERATOR["with_tables"]
default_text: Callable[[Any], str] = GENERATOR["default_text"]


def group_sections(doc: str) -> dict[str, str]:
    """Each ``## `` heading of a document -> the text under it."""
    return {
        part.split("\n", 1)[0]: part.split("\n", 1)[1] if "\n" in part else ""
        for part in re.split(r"^## ", doc, flags=re.M)[1:]
    }


def test_configuration_tables_are_generated_from_config_py() -> None:
    assert with_tables(CONFIGURATION) == CONFIGURATION, "stale: run python scripts/gen-config-docs.py"


def test_every_setting_is_documented_once_in_its_group_with_default_and_meaning() -> None:
    sections = group_sections(CONFIGURATION)
    for f in dataclasses.fields(Settings):
        env = f"`{ENV_PREFIX}{f.name.upper()}`"
        rows = [line for line in CONFIGURATION.splitlines() if line.startswith(f"| {env} ")]
        assert len(rows) == 1, f"{env} must have exactly one row"
        section = sections[group_of(f).title]
        assert rows[0] in section, f"{env} is documented outside the {group_of(f).title} table"
        cells = [c.strip() for c in rows[0].strip("|").split("|")]
        assert cells[2] == default_text(f.default), f"wrong default for {env}"
        assert cells[3].startswith(f.metadata["doc"]), f"wrong meaning for {env}"


def test_every_group_has_settings_and_a_table() -> None:
    sections = group_sections(CONFIGURATION)
    for group in GROUPS:
        assert any(group_of(f) is group for f in dataclasses.fields(Settings)), group.name
        assert "| variable | flag | default | meaning |" in sections[group.title]


def test_docs_name_no_session_variable_that_nothing_reads() -> None:
    settings = {ENV_PREFIX + f.name.upper() for f in dataclasses.fields(Settings)}
    # sessionctl's own variables (target and credentials), read by the client CLI.
    client_cli = (REPO / "clients" / "session_client" / "cli.py").read_text()
    # Enum values of the contract (error reasons, revocation reasons) are not variables.
    contract = "".join(p.read_text() for p in (REPO / "protos" / "session" / "v1").glob("*.proto"))
    enum_values = {
        name.removeprefix("REVOCATION_REASON_") for name in re.findall(r"\b([A-Z_]+) = \d+;", contract)
    }
    known = settings | enum_values | set(re.findall(r"\bSESSION_[A-Z_]+\b", client_cli))
    # A variable is named in code spans, after $, or assigned; SESSION_ID alone is a placeholder.
    pattern = r"(?:`|\$)(SESSION_[A-Z0-9_]*[A-Z0-9])\b|\b(SESSION_[A-Z0-9_]*[A-Z0-9])="
    for doc in [REPO / "README.md", *sorted(DOCS.glob("*.md"))]:
        named = {a or b for a, b in re.findall(pattern, doc.read_text())}
        unknown = named - known
        assert not unknown, f"{doc.name} documents variables nothing reads: {sorted(unknown)}"


def anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def test_links_between_docs_lead_to_files_and_headings() -> None:
    for doc in [REPO / "README.md", *sorted(DOCS.glob("*.md"))]:
        for target, fragment in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", doc.read_text()):
            if "://" in target:
                continue
            path = (doc.parent / target).resolve() if target else doc
            assert path.exists(), f"{doc.name} links to {target}, which does not exist"
            if fragment and path.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", path.read_text(), flags=re.M)
                anchors = {anchor(h) for h in headings}
                assert fragment in anchors, f"{doc.name} links to {target}#{fragment}: no such heading"


def recipe(language: str) -> list[str]:
    """The directives of the docs/gateways.md block in ``language`` that do not name a host."""
    [block] = re.findall(rf"```{language}\n(.*?)```", (DOCS / "gateways.md").read_text(), re.S)
    hosts = ("backend", "session-service:", "example.com")
    return [
        line.strip()
        for line in block.splitlines()
        if line.strip() not in ("", "}")
        and not line.strip().startswith("#")
        and not any(h in line for h in hosts)
    ]


def test_gateway_tests_run_the_nginx_and_caddy_recipes_of_the_docs(tmp_path: Path) -> None:
    from tests.gateway.conftest import caddy_config, nginx_config

    for language, config in (("nginx", nginx_config), ("caddyfile", caddy_config)):
        tested = {line.strip() for line in config(tmp_path, 1, 2, 3).splitlines()}
        missing = [line for line in recipe(language) if line not in tested]
        assert not missing, f"tests/gateway runs a {language} recipe without {missing}"
