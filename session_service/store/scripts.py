"""The Lua scripts: loaded from lua/*.lua once, run by EVALSHA with a NOSCRIPT fallback (EVAL).

store/execution.py sends them through the lane, packed here."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Sequence
from importlib import resources

import hiredis

LIBRARY = "_lib.lua"
NAMES = (
    "create",
    "touch",
    "rotate",
    "update",
    "revoke",
    "revoke_user",
    "list",
    "peek",
    "publish_revocation",
    "outbox_register",
    "outbox_ack",
    "outbox_settle",
    "dpop_replay",
    "idp_index",
    "reauthenticate",
    "activity",
    "step_up",
    "ssf_lease_acquire",
    "ssf_lease_renew",
    "ssf_lease_release",
    "ssf_position_advance",
)


class ScriptCode(enum.IntEnum):
    """First element of every script reply; the values are declared at the top of _lib.lua."""

    OK = 0
    NOT_FOUND = 1
    VERSION_MISMATCH = 2
    LIMIT_REACHED = 3
    DATA_TOO_LARGE = 4
    TOKEN_INVALID = 5
    TOKEN_REUSED = 6
    GRACE = 7
    INDEX_CHANGED = 8
    RATE_LIMITED = 9
    DPOP_KEY_MISMATCH = 10
    PROOF_REPLAYED = 11
    CLIENT_MISMATCH = 12
    REAUTHENTICATION_REQUIRED = 13


def _read(name: str) -> str:
    return resources.files("session_service.store").joinpath("lua", name).read_text("utf-8")


def script_source(name: str) -> str:
    """The full text sent to Redis: the script with the shared library inserted."""
    body, library = _read(f"{name}.lua"), _read(LIBRARY)
    if body.startswith("#!"):
        shebang, _, rest = body.partition("\n")
        return f"{shebang}\n{library}\n{rest}"
    return f"{library}\n{body}"


class Script:
    """One registered script; read-only ones use EVALSHA_RO so they may run on replicas."""

    def __init__(self, name: str, source: str | None = None) -> None:
        """The script ``lua/<name>.lua`` with the library, or ``source`` as given."""
        self.name = name
        self.source = script_source(name) if source is None else source
        self.sha = hashlib.sha1(self.source.encode("utf-8")).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1
        self.read_only = "flags=no-writes" in self.source.partition("\n")[0]
        self._command = "EVALSHA_RO" if self.read_only else "EVALSHA"
        self._source_command = "EVAL_RO" if self.read_only else "EVAL"
        self.span_name = f"{self._command} {name}"
        """What a trace calls a round trip of this script (never its keys or arguments)."""
        self.source_span_name = f"{self._source_command} {name}"
        """The same for the script sent by its source (after NOSCRIPT)."""

    def packed(self, keys: Sequence[str], args: Sequence[str | int | bytes]) -> bytes:
        """This script's EVALSHA (or EVALSHA_RO) with ``keys`` and ``args``, encoded in RESP."""
        return pack_command(self._command, self.sha, len(keys), *keys, *args)

    def packed_source(self, keys: Sequence[str], args: Sequence[str | int | bytes]) -> bytes:
        """This script by its source (EVAL or EVAL_RO), which also caches it on the node."""
        return pack_command(self._source_command, self.source, len(keys), *keys, *args)


def pack_command(*parts: str | int | bytes) -> bytes:
    """A Redis command in RESP, as the lane sends it (hiredis encodes it in one C call)."""
    return hiredis.pack_command(parts)  # type: ignore[arg-type,no-any-return]  # its stub types the tuple as one item


class Scripts:
    """All scripts, registered once at start."""

    def __init__(self) -> None:
        self.by_name = {name: Script(name) for name in NAMES}
        self.create = self.by_name["create"]
        self.touch = self.by_name["touch"]
        self.rotate = self.by_name["rotate"]
        self.update = self.by_name["update"]
        self.revoke = self.by_name["revoke"]
        self.revoke_user = self.by_name["revoke_user"]
        self.list = self.by_name["list"]
        self.peek = self.by_name["peek"]
        self.publish_revocation = self.by_name["publish_revocation"]
        self.outbox_register = self.by_name["outbox_register"]
        self.outbox_ack = self.by_name["outbox_ack"]
        self.outbox_settle = self.by_name["outbox_settle"]
        self.dpop_replay = self.by_name["dpop_replay"]
        self.idp_index = self.by_name["idp_index"]
        self.reauthenticate = self.by_name["reauthenticate"]
        self.activity = self.by_name["activity"]
        self.step_up = self.by_name["step_up"]
