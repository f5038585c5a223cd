"""The session store on Redis or Redis Cluster: each operation is one Lua script call."""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import random
import time
from collections.abc import Sequence
from typing import Any

from session_service.deadline import remaining
from session_service.domain.ids import RETIRED_HASH_CHARS, RefreshToken, SessionId
from session_service.domain.model import ClientInfo, DataPatch, NewSession, Session
from session_service.domain.ports import CreatedSession, Rotation, SessionPolicy
from session_service.errors import (
    RateLimited,
    RefreshTokenInvalid,
    RefreshTokenReused,
    SessionDataTooLarge,
    SessionLimitReached,
    SessionNotFound,
    StoreUnavailable,
    VersionMismatch,
)
from session_service.store.execution import ExecutionPolicy, ScriptRunner, translate_errors
from session_service.store.keys import KeySchema
from session_service.store.scripts import Script, ScriptCode, Scripts

log = logging.getLogger(__name__)

REVOCATION_RETENTION_MARGIN_MS = 60_000
"""Revocation events are kept this much longer than they matter, for clock skew between
the service and Redis (trimming uses the Redis clock)."""

DURABLE_SCRIPTS = frozenset({"create", "rotate", "update", "revoke", "revoke_user", "publish_revocation"})
"""State changes a caller relies on; with SESSION_REDIS_WAIT_REPLICAS they wait for replicas.
Get's expiry slide (touch) and List's index pruning are cheap to lose in a failover."""


class RedisSessionStore:
    """Implements :class:`~session_service.domain.ports.SessionStore` with the scripts in lua/."""

    def __init__(
        self,
        client: Any,
        prefix: str,
        policy: ExecutionPolicy | None = None,
        *,
        revocation_window_ms: int | None = None,
    ) -> None:
        self._client = client
        self._keys = KeySchema(prefix)
        self._scripts = Scripts()
        self._runner = ScriptRunner(client, policy or ExecutionPolicy())
        self._retry_timeout = (policy or ExecutionPolicy()).retry_timeout
        # How long a revocation matters (the longest access-token lifetime plus leeway);
        # None publishes nothing to the revocation stream (see store/revocations.py).
        self._revocation_window_ms = revocation_window_ms

    @property
    def keys(self) -> KeySchema:
        """The key schema."""
        return self._keys

    @property
    def client(self) -> Any:
        """The redis-py client (standalone or cluster)."""
        return self._client

    @property
    def scripts(self) -> Scripts:
        """The registered scripts."""
        return self._scripts

    async def load_scripts(self) -> None:
        """Caches every script on the server(s) so the first calls need no fallback."""
        for script in self._scripts.by_name.values():
            await translate_errors(self._client.script_load(script.source))

    async def _run(
        self,
        script: Script,
        keys: Sequence[str],
        args: Sequence[str | int | bytes],
        *,
        retry_after_loss: bool = True,
    ) -> Any:
        # Which scripts may be repeated after a lost reply is argued in execution.py.
        return await self._runner.run(
            script, keys, args, retry_after_loss=retry_after_loss, durable=script.name in DURABLE_SCRIPTS
        )

    async def _run_user_wide(
        self,
        script: Script,
        keys: list[str],
        index: str,
        session_prefix: str | None,
        args: Sequence[str | int | bytes],
        *,
        retry_after_loss: bool = True,
        optimistic: bool = False,
    ) -> Any:
        """Runs a script that may touch all of a user's sessions, declaring their keys.

        The user's ``index`` (one of ``keys``) is read first and every member's session key is
        passed in KEYS, so Redis Cluster can redirect all of them during a migration
        (see declared_members in _lib.lua). With ``session_prefix`` None the script needs
        no other sessions and runs as is. ``optimistic`` first tries without the members:
        a script that needs them answers INDEX_CHANGED, and only then is the index read.
        """
        if session_prefix is None:
            return await self._run(script, keys, args, retry_after_loss=retry_after_loss)
        if optimistic:
            reply = await self._run(script, keys, args, retry_after_loss=retry_after_loss)
            if reply[0] != ScriptCode.INDEX_CHANGED:
                return reply
        give_up = time.monotonic() + remaining(self._retry_timeout)
        attempt = 0
        while True:
            members = await translate_errors(self._client.zrange(index, 0, -1))
            declared = [*keys, *(session_prefix + m.decode() for m in members)]
            reply = await self._run(script, declared, args, retry_after_loss=retry_after_loss)
            if reply[0] != ScriptCode.INDEX_CHANGED:
                return reply
            # Another call changed this user's sessions in between (a burst of logins):
            # back off a little, with jitter, so the contenders stop colliding.
            attempt += 1
            if time.monotonic() > give_up:
                raise StoreUnavailable("the user's sessions kept changing; try again")
            await asyncio.sleep(random.uniform(0, 0.002 * min(attempt, 10)))  # noqa: S311 - jitter

    async def create(
        self, sid: SessionId, new: NewSession, refresh: RefreshToken, now_ms: int, policy: SessionPolicy
    ) -> CreatedSession:
        """Stores a new session, enforcing the per-user limit atomically."""
        data: list[str | bytes] = []
        for k, v in new.data.items():
            data += [k, v]
        client = {"ip": new.client.ip, "user_agent": new.client.user_agent, "device": new.client.device}
        reply = await self._run_user_wide(
            self._scripts.create,
            [*self._keys.for_session(sid), self._keys.rate_bucket(sid.tag, "c")],
            self._keys.index(sid.tag),
            self._keys.session_prefix(sid.tag) if policy.max_sessions > 0 else None,
            [
                now_ms,
                sid.nonce,
                new.user_id,
                policy.idle_ms,
                policy.absolute_ms,
                policy.max_sessions,
                "1" if policy.reject_new else "0",
                self._keys.session_prefix(sid.tag),
                refresh.secret_hash,
                json.dumps(dict(new.claims)),
                json.dumps(list(new.scopes)),
                json.dumps(client),
                new.client_id,
                repr(policy.create_rate),
                policy.create_burst,
                *data,
            ],
            retry_after_loss=False,
            optimistic=True,
        )
        if reply[0] == ScriptCode.LIMIT_REACHED:
            raise SessionLimitReached(policy.max_sessions)
        if reply[0] == ScriptCode.RATE_LIMITED:
            raise RateLimited("Create for this user", int(reply[1]) / 1000)
        evicted = tuple(f"{sid.tag}.{m.decode()}" for m in reply[1])
        if evicted:
            # The new session exists whatever happens here, so a failed publish is only logged.
            await self._publish_revocation(evicted, now_ms, must_succeed=False)
        return CreatedSession(_decode(sid, reply[2]), evicted)

    async def touch(self, sid: SessionId, now_ms: int) -> Session:
        """Reads a live session and slides its idle expiry."""
        reply = await self._run(self._scripts.touch, self._keys.for_session(sid), [now_ms, sid.nonce])
        if reply[0] != ScriptCode.OK:
            raise SessionNotFound()
        return _decode(sid, reply[1])

    async def rotate_refresh(
        self,
        presented: RefreshToken,
        successor: RefreshToken,
        sealed_successor: bytes,
        now_ms: int,
        policy: SessionPolicy,
    ) -> Rotation:
        """Rotates the refresh token; a rotated token presented again ends the session."""
        sid = presented.session_id
        reply = await self._run(
            self._scripts.rotate,
            [*self._keys.for_session(sid), self._keys.rate_bucket(sid.tag, "r")],
            [
                now_ms,
                sid.nonce,
                presented.secret_hash,
                successor.secret_hash,
                sealed_successor,
                policy.refresh_grace_ms,
                policy.reuse_memory,
                RETIRED_HASH_CHARS,
                repr(policy.refresh_rate),
                policy.refresh_burst,
            ],
            retry_after_loss=policy.refresh_grace_ms > 0,
        )
        code = reply[0]
        if code == ScriptCode.OK:
            return Rotation(_decode(sid, reply[1]), None)
        if code == ScriptCode.RATE_LIMITED:
            raise RateLimited("Refresh for this user", int(reply[1]) / 1000)
        if code == ScriptCode.GRACE:
            return Rotation(_decode(sid, reply[1]), reply[2])
        if code == ScriptCode.TOKEN_REUSED:
            # A retry would find the session gone and could not publish again: log a failure.
            await self._publish_revocation([str(sid)], now_ms, must_succeed=False)
            raise RefreshTokenReused()
        raise RefreshTokenInvalid()

    async def update(self, sid: SessionId, patch: DataPatch, now_ms: int, policy: SessionPolicy) -> Session:
        """Applies the patch if the session is live, at the expected version and within limits."""
        sets: list[str | bytes] = []
        for k, v in patch.set.items():
            sets += [k, v]
        reply = await self._run(
            self._scripts.update,
            self._keys.for_session(sid),
            [
                now_ms,
                sid.nonce,
                patch.expected_version,
                policy.max_data_entries,
                policy.max_data_bytes,
                len(patch.set),
                *sets,
                *patch.remove,
            ],
        )
        code = reply[0]
        if code == ScriptCode.OK:
            return _decode(sid, reply[1])
        if code == ScriptCode.VERSION_MISMATCH:
            raise VersionMismatch(patch.expected_version, int(reply[1]))
        if code == ScriptCode.DATA_TOO_LARGE:
            raise SessionDataTooLarge(policy.max_data_entries, policy.max_data_bytes)
        raise SessionNotFound()

    async def revoke(
        self, sid: SessionId, now_ms: int, *, refresh: RefreshToken | None = None, user_id: str = ""
    ) -> int:
        """Ends one live session (matching the refresh token or user when given)."""
        required_hash = refresh.secret_hash if refresh else ""
        reply = int(
            await self._run(
                self._scripts.revoke, self._keys.for_session(sid), [now_ms, sid.nonce, required_hash, user_id]
            )
        )
        if reply >= 0:
            # Published even when the session had already ended: a Revoke retried after a
            # failed publish then still reaches the verifiers, and a duplicate event is harmless.
            await self._publish_revocation([str(sid)], now_ms)
        return max(reply, 0)

    async def revoke_user(self, user_id: str, except_sid: SessionId | None, now_ms: int) -> int:
        """Ends a user's sessions but one; works from the user's index, in one slot."""
        tag, index, session_prefix = self._keys.for_user(user_id)
        keep = except_sid.nonce if except_sid is not None and except_sid.tag == tag else ""
        reply = await self._run_user_wide(
            self._scripts.revoke_user, [index], index, session_prefix, [now_ms, session_prefix, user_id, keep]
        )
        ended = [f"{tag}.{m.decode()}" for m in reply[1]]
        if ended:
            await self._publish_revocation(ended, now_ms)
        return len(ended)

    async def list_user(
        self, user_id: str, now_ms: int, page_size: int, after: str = ""
    ) -> tuple[Sequence[Session], str]:
        """One page of a user's live sessions in session-id order, after the member ``after``.

        Returns the page and the member to continue after ('' when it was the last page).
        The index holds only nonces (bounded by the per-user limit); the script then reads
        just the page's sessions.
        """
        tag, index, session_prefix = self._keys.for_user(user_id)
        members = sorted(m.decode() for m in await translate_errors(self._client.zrange(index, 0, -1)))
        start = bisect.bisect_right(members, after) if after else 0
        page = members[start : start + page_size]
        if not page:
            return [], ""
        reply = await self._run(
            self._scripts.list,
            [index, *(session_prefix + m for m in page)],
            [now_ms, session_prefix, user_id, *page],
        )
        flat = reply[1]
        sessions = [_decode(SessionId(tag, flat[i].decode()), flat[i + 1]) for i in range(0, len(flat), 2)]
        more = start + page_size < len(members)
        return sessions, page[-1] if more else ""

    async def peek(self, sid: SessionId, now_ms: int, refresh: RefreshToken | None = None) -> Session | None:
        """A live session, read without writing (may run on a replica)."""
        required_hash = refresh.secret_hash if refresh else ""
        reply = await self._run(self._scripts.peek, [self._keys.session(sid)], [now_ms, required_hash])
        return _decode(sid, reply[1]) if reply[0] == ScriptCode.OK else None

    async def _publish_revocation(
        self, session_ids: Sequence[str], now_ms: int, *, must_succeed: bool = True
    ) -> None:
        """Appends a revocation event for sessions a script has just ended.

        Not part of that script: the stream has its own slot, and a script may only touch
        keys of one slot (the ended sessions' user's)."""
        if self._revocation_window_ms is None:
            return
        window = self._revocation_window_ms
        args: list[str | int] = [
            window + REVOCATION_RETENTION_MARGIN_MS,
            now_ms,
            now_ms + window,
            " ".join(session_ids),
        ]
        try:
            # A repeat after a lost reply only duplicates the event, which watchers tolerate.
            await self._run(self._scripts.publish_revocation, [self._keys.revocations()], args)
        except StoreUnavailable:
            if must_succeed:
                raise
            log.error("could not publish the revocation of %d session(s)", len(session_ids))

    async def ping(self) -> None:
        """Returns when Redis answers PING."""
        await translate_errors(self._client.ping())

    async def close(self) -> None:
        """Closes the connection pool(s)."""
        await self._client.aclose()


def _decode(sid: SessionId, flat: Sequence[bytes]) -> Session:
    fields = {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}
    client = json.loads(fields["client"])
    return Session(
        session_id=str(sid),
        user_id=fields["user"].decode(),
        created_at_ms=int(fields["created"]),
        last_active_at_ms=int(fields["active"]),
        idle_expires_at_ms=int(fields["idle_exp"]),
        absolute_expires_at_ms=int(fields["abs_exp"]),
        version=int(fields["ver"]),
        data={k[2:]: v for k, v in fields.items() if k.startswith("d:")},
        claims=json.loads(fields["claims"]),
        scopes=tuple(json.loads(fields["scopes"])),
        client=ClientInfo(client["ip"], client["user_agent"], client["device"]),
        client_id=fields["client_id"].decode(),
    )
