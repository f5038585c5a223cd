"""Where each SSF receiver's delivery stands, and which replica delivers to it, in Redis.

Per receiver two keys in one slot (keys.py): a lease naming the one replica that delivers
(taken with SET NX PX and a random token, kept by a compare-and-extend script, given up by
a compare-and-delete one), and the position: the revocation stream cursor of the last
event the receiver accepted. Only the lease's holder can move the position
(``ssf_position_advance.lua``), so a replica that lost its lease while a push hung cannot
move back the position of the one that took over.

A failover may lose the newest position write (replication is asynchronous): the new
holder then resumes from an older cursor and sends some events again, which receivers
drop by their ``jti``. Nothing is skipped. Every script here is safe to repeat after a
lost reply (execution.py).
"""

from __future__ import annotations

from typing import Any

from session_service.store.execution import ScriptRunner, translate_errors
from session_service.store.keys import KeySchema
from session_service.store.scripts import Script, ScriptCode, Scripts


class ReceiverPositions:
    """The delivery lease and position of SSF receivers, by receiver name."""

    def __init__(self, client: Any, keys: KeySchema, scripts: Scripts, runner: ScriptRunner) -> None:
        self._client = client
        self._keys = keys
        self._runner = runner
        self._acquire = scripts.by_name["ssf_lease_acquire"]
        self._renew = scripts.by_name["ssf_lease_renew"]
        self._release = scripts.by_name["ssf_lease_release"]
        self._advance = scripts.by_name["ssf_position_advance"]

    async def acquire(self, receiver: str, token: str, ttl_ms: int) -> bool:
        """Takes the receiver's lease for ``ttl_ms`` unless another token holds it."""
        return await self._ok(self._acquire, [self._keys.ssf_lease(receiver)], [token, ttl_ms])

    async def renew(self, receiver: str, token: str, ttl_ms: int) -> bool:
        """Extends the lease ``token`` holds to ``ttl_ms`` from now; False when it no longer holds it."""
        return await self._ok(self._renew, [self._keys.ssf_lease(receiver)], [token, ttl_ms])

    async def release(self, receiver: str, token: str) -> bool:
        """Gives up the lease ``token`` holds; False when it did not hold it."""
        return await self._ok(self._release, [self._keys.ssf_lease(receiver)], [token])

    async def position(self, receiver: str) -> str:
        """The cursor after the last event the receiver accepted ('' before the first)."""
        raw = await translate_errors(self._client.get(self._keys.ssf_position(receiver)))
        if raw is None:
            return ""
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def advance(self, receiver: str, token: str, cursor: str) -> bool:
        """Records ``cursor`` as the receiver's position if ``token`` holds its lease."""
        keys = [self._keys.ssf_lease(receiver), self._keys.ssf_position(receiver)]
        return await self._ok(self._advance, keys, [token, cursor])

    async def _ok(self, script: Script, keys: list[str], args: list[str | int]) -> bool:
        reply = await self._runner.run(script, keys, args, retry_after_loss=True)
        return bool(reply[0] == ScriptCode.OK)
