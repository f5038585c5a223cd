"""The settings' documents (the policy, the signal issuers, the SSF receivers): how they
are read, and which plain-``http`` URLs they may name.

A document is JSON when the file ends in ``.json`` and YAML otherwise (YAML also reads
JSON). Both are read strictly: a repeated key is an error, where JSON and PyYAML would
keep the last value silently. Error messages give a position, never the document's text
(it may hold identities and secrets' file names that belong in no log).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml


def yaml_allowed(path: Path) -> bool:
    """Whether the file at ``path`` is read as YAML (anything but ``.json``)."""
    return path.suffix.lower() != ".json"


def load_document(data: bytes, *, yaml_allowed: bool) -> Any:
    """The parsed document; ValueError saying where it is not valid."""
    if not yaml_allowed:
        try:
            return json.loads(data, object_pairs_hook=_no_duplicate_keys)
        except (ValueError, RecursionError) as e:
            # JSONDecodeError's message holds only a position; the duplicate key is ours.
            raise ValueError(f"not valid JSON: {e}") from None
    try:
        return yaml.load(data, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        # Its str() quotes the offending lines, so only the position is reported.
        mark = e.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ValueError(f"not valid YAML{where}: {e.problem or 'syntax error'}") from None
    except (yaml.YAMLError, RecursionError):
        raise ValueError("not valid YAML") from None


def is_loopback_host(host: str) -> bool:
    """Whether a URL's host is this machine: ``localhost`` or a loopback IP literal
    (``127.0.0.0/8``, ``[::1]``). Plain ``http`` is allowed only to such a host."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a repeated key."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        # Merge keys (<<) are resolved first, as SafeLoader does, so only real keys are compared.
        self.flatten_mapping(node)
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)
