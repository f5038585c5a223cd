"""The reply codes of the Lua scripts: declared once in _lib.lua, equal to ScriptCode, and
the first element of every reply of every script."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from session_service.store.scripts import LIBRARY, NAMES, ScriptCode


def _read(name: str) -> str:
    return resources.files("session_service.store").joinpath("lua", name).read_text("utf-8")


def _lua_codes() -> dict[str, int]:
    """The ``local NAME, ... = 0, ...`` declarations of _lib.lua's code table."""
    codes: dict[str, int] = {}
    for line in _read(LIBRARY).splitlines():
        match = re.fullmatch(r"local ([A-Z_, ]+) = ([0-9, ]+)", line.strip())
        if match:
            names = [n.strip() for n in match.group(1).split(",")]
            values = [int(v) for v in match.group(2).split(",")]
            assert len(names) == len(values), line
            codes.update(zip(names, values, strict=True))
    return codes


def test_lua_and_python_declare_the_same_reply_codes() -> None:
    assert _lua_codes() == {code.name: code.value for code in ScriptCode}


def test_a_reply_without_a_code_is_found() -> None:
    assert _top_level_returns("local function f()\n  return 1\nend\nreturn {code, 2}") == ["return {code, 2}"]


def _top_level_returns(source: str) -> list[str]:
    """The return statements of a script's own code, not of the local functions it defines
    (which end with an ``end`` in the first column)."""
    returns: list[str] = []
    in_function = False
    for line in source.splitlines():
        if line.startswith("local function"):
            in_function = True
        elif in_function and line == "end":
            in_function = False
        elif not in_function and re.match(r"\s*return\b", line):
            returns.append(line.strip())
    return returns


@pytest.mark.parametrize("name", NAMES)
def test_every_reply_of_a_script_starts_with_a_declared_code(name: str) -> None:
    returns = _top_level_returns(_read(f"{name}.lua"))
    assert returns, f"{name}.lua returns nothing"
    for statement in returns:
        match = re.match(r"return \{([A-Z_]+)[,}]", statement)
        assert match, f"{name}.lua: {statement!r} does not start its reply with a code"
        assert match.group(1) in ScriptCode.__members__, f"{name}.lua: unknown code in {statement!r}"
