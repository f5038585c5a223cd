"""The session store on Redis or Redis Cluster: each operation is one Lua script call."""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from session_service.deadline import remaining
from session_service.domain.assurance import Authentication
from session_service.domain.ids import RETIRED_HASH_CHARS, RefreshToken, SessionId, parse_session_id
from session_service.domain.model import (
    ClientInfo,
    DataPatch,
    IdpSession,
    NewSession,
    RevocationReason,
    Session,
    SessionsEnded,
)
from session_service.domain.ports import CreatedSession, Rotation, SessionPolicy
from session_service.domain.risk import BURST_WINDOW_MS, Activity
from session_service.errors import (
    DpopProofInvalid,
    RateLimited,
    ReauthenticationRequired,
    RefreshTokenInvalid,
    RefreshTokenReused,
    SessionClientMismatch,
    SessionDataTooLarge,
    SessionLimitReached,
    SessionNotFound,
    StoreUnavailable,
    VersionMismatch,
)
from session_service.store.execution import ExecutionPolicy, ScriptRunner, translate_errors
from session_service.store.keys import KeySchema
from session_service.store.lane import Lane
from session_service.store.outbox import EventRecording, RevocationRelay
from session_service.store.scripts import Script, ScriptCode, Scripts

log = logging.getLogger(__name__)

DURABLE_SCRIPTS = frozenset(
    {"create", "rotate", "update", "revoke", "revoke_user", "reauthenticate", "idp_index"}
)
"""State changes a caller relies on; with SESSION_REDIS_WAIT_REPLICAS they wait for replicas
(idp_index too: an entry lost in a failover is a session an identity provider's logout
misses). Get's expiry slide (touch) and List's index pruning are cheap to lose in a failover."""


USER_WIDE_BATCH = 500
"""Sessions one revoke_user script call ends at most: a user with many sessions costs
several bounded calls rather than one long one that blocks Redis."""


class RedisSessionStore:
    """Implements :class:`~session_service.domain.ports.SessionStore` with the scripts in lua/."""

    def __init__(
        self,
        client: Any,
        prefix: str,
        policy: ExecutionPolicy | None = None,
        *,
        lane: Lane,
        revocation_window_ms: int,
        redis_timeout: float = 2.0,
        compact: bool = True,
    ) -> None:
        # compact: new sessions in the compact layout (create.lua), else in the full one
        # that replicas of earlier releases read.
        self._compact = compact
        self._client = client
        self._keys = KeySchema(prefix)
        self._scripts = Scripts()
        self._runner = ScriptRunner(lane, policy or ExecutionPolicy())
        self._retry_timeout = (policy or ExecutionPolicy()).retry_timeout
        # revocation_window_ms: how long a revocation matters (the longest access-token
        # lifetime plus leeway); see store/outbox.py for how events reach the stream.
        self._relay = RevocationRelay(
            client,
            self._keys,
            self._scripts,
            self._runner,
            window_ms=revocation_window_ms,
            redis_timeout=redis_timeout,
            retry_timeout=self._retry_timeout,
        )

    def _stored_hash(self, refresh: RefreshToken) -> bytes | str:
        """How a session keeps its refresh token: the raw SHA-256 in the compact layout,
        its hex in the full one (stored_hash_hex in _lib.lua reads both)."""
        return refresh.secret_digest if self._compact else refresh.secret_hash

    @property
    def keys(self) -> KeySchema:
        """The key schema."""
        return self._keys

    @property
    def client(self) -> Any:
        """The redis-py client (standalone or cluster)."""
        return self._client

    @property
    def runner(self) -> ScriptRunner:
        """Runs scripts and hot reads through the lane, under the retry policy."""
        return self._runner

    @property
    def relay(self) -> RevocationRelay:
        """The outbox relay; app.py runs its recovery loop."""
        return self._relay

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

    async def _run_declaring_members(
        self,
        script: Script,
        keys: list[str],
        index: str,
        session_prefix: str,
        args: Sequence[str | int | bytes],
        before_run: Callable[[int], Awaitable[None]],
        trailing_keys: Sequence[str] = (),
    ) -> Any:
        """Runs a script that may touch all of a user's sessions (create at the limit).

        It first runs with ``keys`` alone; a script that needs the user's other sessions
        answers INDEX_CHANGED, and then the ``index`` is read and every member's session key
        is passed in KEYS after ``keys``, so Redis Cluster can redirect all of them during a
        migration (see declared_members in _lib.lua). ``trailing_keys`` come last in every
        run. ``before_run`` is awaited with the number of members before each run that
        declares them. Never retried after a lost reply: create must not run twice.
        """
        reply = await self._run(script, [*keys, *trailing_keys], args, retry_after_loss=False)
        if reply[0] != ScriptCode.INDEX_CHANGED:
            return reply
        give_up = time.monotonic() + remaining(self._retry_timeout)
        attempt = 0
        while True:
            members = await self._runner.read("ZRANGE", index, 0, -1)
            await before_run(len(members))
            declared = [*keys, *(session_prefix + m.decode() for m in members), *trailing_keys]
            reply = await self._run(script, declared, args, retry_after_loss=False)
            if reply[0] != ScriptCode.INDEX_CHANGED:
                return reply
            # Another call changed this user's sessions in between (a burst of logins):
            # back off a little, with jitter, so the contenders stop colliding.
            attempt += 1
            if time.monotonic() > give_up:
                raise StoreUnavailable("the user's sessions kept changing; try again")
            await asyncio.sleep(random.uniform(0, 0.002 * min(attempt, 10)))  # noqa: S311 - jitter

    async def create(
        self,
        sid: SessionId,
        new: NewSession,
        refresh: RefreshToken,
        now_ms: int,
        policy: SessionPolicy,
        eviction_reason: RevocationReason,
        *,
        caller: str = "",
    ) -> CreatedSession:
        """Stores a new session, enforcing the per-user limit atomically."""
        data: list[str | bytes] = []
        for k, v in new.data.items():
            data += [k, v]
        client = {"ip": new.client.ip, "user_agent": new.client.user_agent, "device": new.client.device}
        bucket, outbox = self._keys.rate_bucket(sid.tag, "c"), self._keys.outbox(sid.tag)
        keys = [*self._keys.for_session(sid), bucket, outbox]
        idp_fields: tuple[str, str, str] = ("", "", "")
        if new.idp is not None:
            idp_fields = (new.idp.issuer, new.idp.subject, new.idp.session_id)
            # Indexed first, in the index's own slot: a crash before create leaves a member
            # whose session never existed (skipped and pruned when read), never a session
            # that a logout at the identity provider would not find.
            await self._index_idp(new.idp, str(sid), now_ms, now_ms + policy.absolute_ms)

        async def run(recording: EventRecording) -> Any:
            async def note_if_full(members: int) -> None:
                # Only a user at the limit can lose a session to this Create: the event is
                # noted then, so an eviction reaches the stream even if this replica dies.
                if members >= policy.max_sessions and not policy.reject_new:
                    await recording.note_first()

            # With no per-user limit the script never asks for the members (INDEX_CHANGED).
            return await self._run_declaring_members(
                self._scripts.create,
                keys,
                self._keys.index(sid.tag),
                self._keys.session_prefix(sid.tag),
                [
                    now_ms,
                    sid.nonce,
                    new.user_id,
                    policy.idle_ms,
                    policy.absolute_ms,
                    policy.max_sessions,
                    "1" if policy.reject_new else "0",
                    self._keys.session_prefix(sid.tag),
                    self._stored_hash(refresh),
                    json.dumps(dict(new.claims)) if new.claims else "",
                    json.dumps(list(new.scopes)) if new.scopes else "",
                    json.dumps({k: v for k, v in client.items() if v}) if any(client.values()) else "",
                    new.client_id,
                    repr(policy.create_rate),
                    policy.create_burst,
                    sid.tag,
                    *recording.args,
                    new.cnf_jkt,
                    refresh.generation,
                    caller,
                    *idp_fields,
                    new.acr,
                    " ".join(new.amr),
                    new.auth_time_ms or "",
                    new.impersonator,
                    "1" if self._compact else "0",
                    *data,
                ],
                note_if_full,
                recording.keys,
            )

        reply = await self._relay.record(
            sid.tag,
            now_ms,
            eviction_reason.value,
            run,
            lambda reply: reply[0] == ScriptCode.OK and bool(reply[1]),
            note_first=False,
        )
        if reply[0] == ScriptCode.LIMIT_REACHED:
            raise SessionLimitReached(policy.max_sessions)
        if reply[0] == ScriptCode.RATE_LIMITED:
            raise RateLimited("Create for this user", int(reply[1]) / 1000)
        evicted = SessionsEnded(
            eviction_reason,
            tuple(f"{sid.tag}.{m.decode()}" for m in reply[1]),
            new.user_id,
            _impersonators(sid.tag, reply[4]),
        )
        # The session as stored: what was sent, and the expiries the script worked out.
        stored = Session(
            session_id=str(sid),
            user_id=new.user_id,
            created_at_ms=now_ms,
            last_active_at_ms=now_ms,
            idle_expires_at_ms=int(reply[2]),
            absolute_expires_at_ms=int(reply[3]),
            version=1,
            data=dict(new.data),
            claims=dict(new.claims),
            scopes=tuple(new.scopes),
            client=new.client,
            client_id=new.client_id,
            cnf_jkt=new.cnf_jkt,
            idp=new.idp,
            acr=new.acr,
            amr=new.amr,
            auth_time_ms=new.auth_time_ms,
            impersonator=new.impersonator,
        )
        return CreatedSession(stored, evicted)

    def _idp_indexes(self, idp: IdpSession) -> list[str]:
        keys = []
        if idp.session_id:
            keys.append(self._keys.idp_session(idp.issuer, idp.session_id))
        if idp.subject:
            keys.append(self._keys.idp_subject(idp.issuer, idp.subject))
        return keys

    async def _index_idp(self, idp: IdpSession, session_id: str, now_ms: int, expires_ms: int) -> None:
        # Repeating an add after a lost reply changes nothing: it may be retried.
        await asyncio.gather(
            *(
                self._run(self._scripts.idp_index, [index], [now_ms, session_id, expires_ms])
                for index in self._idp_indexes(idp)
            )
        )

    async def idp_sessions(self, idp: IdpSession, now_ms: int) -> list[SessionId]:
        """Our sessions that were created from the identity provider's session (by
        ``idp.session_id``) or for its subject (by ``idp.subject``, when no session id is
        given); some may have ended already. One read of one index, no scan."""
        index = self._idp_indexes(IdpSession(idp.issuer, "", idp.session_id) if idp.session_id else idp)
        if not index:
            return []
        members = await self._runner.read("ZRANGE", index[0], now_ms, "+inf", "BYSCORE")
        found = []
        for member in members:
            sid = parse_session_id(member.decode())
            if sid is not None:
                found.append(sid)
        return found

    async def forget_idp_sessions(self, idp: IdpSession, sessions: Sequence[SessionId], now_ms: int) -> None:
        """Removes ended sessions from the index :meth:`idp_sessions` read them from."""
        index = self._idp_indexes(IdpSession(idp.issuer, "", idp.session_id) if idp.session_id else idp)
        if index and sessions:
            await self._run(self._scripts.idp_index, index[:1], [now_ms, "", 0, *(str(s) for s in sessions)])

    async def first_signal(self, issuer: str, jti: str, window_ms: int) -> bool:
        """Records the id of an issuer's logout token or security event for ``window_ms``;
        False when it was recorded before (a replay). Never repeated after a lost reply: a
        repeat would take the first use for a replay."""
        reply = await self._runner.run(
            self._scripts.dpop_replay,
            [self._keys.signal_seen(issuer, jti)],
            [window_ms],
            retry_after_loss=False,
            durable=False,
        )
        return bool(reply[0] == ScriptCode.OK)

    async def signal_seen(self, issuer: str, jti: str) -> bool:
        """Whether :meth:`first_signal` recorded the issuer's token id."""
        return bool(await self._runner.read("EXISTS", self._keys.signal_seen(issuer, jti)))

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
        reuse_reason: RevocationReason,
        *,
        dpop_jkt: str = "",
        callers: frozenset[str] | None = None,
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
                self._stored_hash(successor),
                sealed_successor,
                policy.refresh_grace_ms,
                presented.generation,
                RETIRED_HASH_CHARS,
                repr(policy.refresh_rate),
                policy.refresh_burst,
                dpop_jkt,
                *_caller_args(callers),
            ],
            retry_after_loss=policy.refresh_grace_ms > 0,
        )
        code = reply[0]
        if code == ScriptCode.OK:
            return Rotation(_decode(sid, reply[1]), None, _activity(reply[1]))
        if code == ScriptCode.RATE_LIMITED:
            raise RateLimited("Refresh for this user", int(reply[1]) / 1000)
        if code == ScriptCode.GRACE:
            return Rotation(_decode(sid, reply[1]), reply[2], _activity(reply[1]))
        if code == ScriptCode.REAUTHENTICATION_REQUIRED:
            raise ReauthenticationRequired()
        if code == ScriptCode.CLIENT_MISMATCH:
            raise SessionClientMismatch()
        if code == ScriptCode.DPOP_KEY_MISMATCH:
            raise DpopProofInvalid(
                "the session is bound to a DPoP key: a proof by that key is required"
                if not dpop_jkt
                else "the proof is signed by another key than the session is bound to"
            )
        if code == ScriptCode.TOKEN_REUSED:
            # Ended in a second step, through the revoke script and its noted outbox event, so
            # the hot path (every Refresh) needs no note. A crash between the two steps ends
            # nothing: the session stays, and the next presentation of a rotated token is
            # detected again.
            await self.revoke(sid, now_ms, reuse_reason)
            raise RefreshTokenReused(reply[1].decode())
        raise RefreshTokenInvalid()

    async def reauthenticate(
        self,
        sid: SessionId,
        new_sid: SessionId,
        refresh: RefreshToken,
        authentication: Authentication,
        now_ms: int,
        reason: RevocationReason,
        *,
        dpop_jkt: str = "",
        callers: frozenset[str] | None = None,
    ) -> Session:
        """Moves a live session to ``new_sid`` with ``refresh`` as its refresh token and the
        new authentication, ending ``sid`` (its revocation event for ``reason``) in the
        same atomic step (reauthenticate.lua)."""
        reply = await self._relay.record(
            sid.tag,
            now_ms,
            reason.value,
            lambda recording: self._run(
                self._scripts.reauthenticate,
                [
                    *self._keys.for_session(sid),
                    self._keys.session(new_sid),
                    self._keys.outbox(sid.tag),
                    *recording.keys,
                ],
                [
                    now_ms,
                    sid.nonce,
                    new_sid.nonce,
                    self._stored_hash(refresh),
                    refresh.generation,
                    authentication.acr,
                    " ".join(authentication.amr),
                    authentication.auth_time_ms,
                    dpop_jkt,
                    sid.tag,
                    *recording.args,
                    *_caller_args(callers),
                ],
                # Repeated after a lost reply it would find the old id gone (NOT_FOUND), and
                # the caller would never learn the new one: a lost reply is an error.
                retry_after_loss=False,
            ),
            lambda reply: reply[0] == ScriptCode.OK,
            outbox=lambda reply: _pairs(reply[-1]),
        )
        code = reply[0]
        if code == ScriptCode.OK:
            return _decode(new_sid, reply[1])
        if code == ScriptCode.CLIENT_MISMATCH:
            raise SessionClientMismatch()
        if code == ScriptCode.DPOP_KEY_MISMATCH:
            raise DpopProofInvalid(
                "the session is bound to a DPoP key: a proof by that key is required"
                if not dpop_jkt
                else "the proof is signed by another key than the session is bound to"
            )
        raise SessionNotFound()

    async def record_activity(
        self, sid: SessionId, client: ClientInfo, now_ms: int, *, refreshing: bool = False
    ) -> Activity | None:
        """Records the client a live session was used from (activity.lua); the activity
        before, or None when the session is not live. Not durable (no WAIT): a last client
        lost in a failover is written again by the next request."""
        reply = await self._runner.run(
            self._scripts.activity,
            self._keys.for_session(sid),
            [
                now_ms,
                sid.nonce,
                client.ip,
                client.user_agent,
                client.device,
                "1" if refreshing else "0",
                BURST_WINDOW_MS,
            ],
            # A repeat writes the same client again; only a refresh's window start could
            # move by the repeat's delay, which no signal notices.
            retry_after_loss=True,
            durable=False,
        )
        if reply[0] != ScriptCode.OK:
            return None
        ip, ua, device, seen = (v.decode() if v is not None else "" for v in reply[1:5])
        return Activity(ClientInfo(ip, ua, device), int(seen) if seen else 0)

    async def step_up(self, sid: SessionId, now_ms: int, reason: RevocationReason) -> bool:
        """Revokes the session's current access tokens and stops its refreshes until
        Reauthenticate (step_up.lua), its event recorded through the relay."""
        reply = await self._relay.record(
            sid.tag,
            now_ms,
            reason.value,
            lambda recording: self._run(
                self._scripts.step_up,
                [*self._keys.for_session(sid), self._keys.outbox(sid.tag), *recording.keys],
                [now_ms, sid.nonce, sid.tag, *recording.args],
            ),
            lambda reply: reply[0] == ScriptCode.OK,
            outbox=lambda reply: _pairs(reply[1]),
        )
        return bool(reply[0] == ScriptCode.OK)

    async def first_use(self, tag: str, jkt: str, jti: str, window_ms: int) -> bool:
        """Records a DPoP proof id in the user's slot for ``window_ms``; False for a replay.

        Never repeated after a lost reply (execution.py says why). Not durable (no WAIT):
        a record lost in a failover reopens one proof's window, which is not worth a
        replica round trip on every DPoP request."""
        reply = await self._runner.run(
            self._scripts.dpop_replay,
            [self._keys.dpop_proof(tag, jkt, jti)],
            [window_ms],
            retry_after_loss=False,
            durable=False,
        )
        return bool(reply[0] == ScriptCode.OK)

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
        self,
        sid: SessionId,
        now_ms: int,
        reason: RevocationReason,
        *,
        refresh: RefreshToken | None = None,
        user_id: str = "",
        callers: frozenset[str] | None = None,
    ) -> SessionsEnded:
        """Ends one live session (one the refresh token was ever issued for, or the user's,
        when given)."""
        reply = await self._relay.record(
            sid.tag,
            now_ms,
            reason.value,
            lambda recording: self._run(
                self._scripts.revoke,
                [*self._keys.for_session(sid), self._keys.outbox(sid.tag), *recording.keys],
                [
                    now_ms,
                    sid.nonce,
                    refresh.secret_hash if refresh else "",
                    user_id,
                    sid.tag,
                    *recording.args,
                    refresh.generation if refresh else 0,
                    RETIRED_HASH_CHARS,
                    *_caller_args(callers),
                ],
            ),
            # Only a session this call ended has an event; a repeat after a lost reply finds
            # the event already in the outbox (or the stream), recorded by the first run.
            lambda reply: reply[0] == ScriptCode.OK,
            outbox=lambda reply: _pairs(reply[1]),
        )
        if reply[0] == ScriptCode.CLIENT_MISMATCH:
            raise SessionClientMismatch()
        if reply[0] != ScriptCode.OK:
            return SessionsEnded(reason, (), user_id)
        impersonator = reply[3].decode()
        return SessionsEnded(
            reason, (str(sid),), reply[2].decode(), {str(sid): impersonator} if impersonator else {}
        )

    async def revoke_user(
        self, user_id: str, except_sid: SessionId | None, now_ms: int, reason: RevocationReason
    ) -> SessionsEnded:
        """Ends a user's sessions but one, from the user's index in one slot, a bounded batch
        of sessions per script call (each batch its own revocation event)."""
        tag, index, _ = self._keys.for_user(user_id)
        keep = except_sid.nonce if except_sid is not None and except_sid.tag == tag else ""
        ended = SessionsEnded(reason, (), user_id)
        tried: set[str] = {keep}
        while True:
            members = [m.decode() for m in await self._runner.read("ZRANGE", index, 0, -1)]
            rest = [m for m in members if m not in tried]
            batch = rest[:USER_WIDE_BATCH]
            if not batch:
                return ended
            # Sessions that a batch could not end (another user's, by a tag collision) are
            # not tried again; ones created meanwhile are ended by a later batch.
            tried.update(batch)
            ended = _joined(ended, await self._revoke_batch(user_id, batch, keep, now_ms, reason))
            if len(rest) <= USER_WIDE_BATCH:
                # Everything read was in this batch: no second read of the index just to see
                # it empty. Sessions created meanwhile are new logins, not ones we were asked for.
                return ended

    async def revoke_sessions(
        self, user_id: str, sids: Sequence[SessionId], now_ms: int, reason: RevocationReason
    ) -> SessionsEnded:
        """Ends those of ``sids`` that are the user's live sessions: the user's slot, one
        script call (and one revocation event) per bounded batch, as :meth:`revoke_user`."""
        tag = self._keys.for_user(user_id)[0]
        members = [sid.nonce for sid in sids if sid.tag == tag]
        ended = SessionsEnded(reason, (), user_id)
        for start in range(0, len(members), USER_WIDE_BATCH):
            ended = _joined(
                ended,
                await self._revoke_batch(
                    user_id, members[start : start + USER_WIDE_BATCH], "", now_ms, reason
                ),
            )
        return ended

    async def _revoke_batch(
        self, user_id: str, batch: list[str], keep: str, now_ms: int, reason: RevocationReason
    ) -> SessionsEnded:
        """Ends the user's live sessions among ``batch`` (nonces) but ``keep`` with
        revoke_user.lua; returns their ids."""
        tag, index, session_prefix = self._keys.for_user(user_id)

        async def run(recording: EventRecording) -> Any:
            return await self._run(
                self._scripts.revoke_user,
                [index, self._keys.outbox(tag), *(session_prefix + m for m in batch), *recording.keys],
                [now_ms, session_prefix, user_id, keep, tag, *recording.args, *batch],
            )

        reply = await self._relay.record(tag, now_ms, reason.value, run, lambda reply: bool(reply[1]))
        return SessionsEnded(
            reason, tuple(f"{tag}.{m.decode()}" for m in reply[1]), user_id, _impersonators(tag, reply[2])
        )

    async def list_user(
        self, user_id: str, now_ms: int, page_size: int, after: str = ""
    ) -> tuple[Sequence[Session], str]:
        """One page of a user's live sessions in session-id order, after the member ``after``.

        Returns the page and the member to continue after ('' when it was the last page).
        The index holds only nonces (bounded by the per-user limit); only the page's
        sessions are read. On a single Redis the script reads the index and chooses the
        page itself (one round trip). In a cluster every key a script touches must be
        declared, so the index is read first and the script gets the page's keys; so
        does a single Redis for an index too large to sort inside a script.
        """
        tag, index, session_prefix = self._keys.for_user(user_id)
        if not self._runner.cluster:
            reply = await self._run(
                self._scripts.list, [index], [now_ms, session_prefix, user_id, page_size, after]
            )
            if reply[0] == ScriptCode.OK:
                return _listed(tag, reply[1]), reply[2].decode()
        members = sorted(m.decode() for m in await self._runner.read("ZRANGE", index, 0, -1))
        start = bisect.bisect_right(members, after) if after else 0
        page = members[start : start + page_size]
        if not page:
            return [], ""
        reply = await self._run(
            self._scripts.list,
            [index, *(session_prefix + m for m in page)],
            [now_ms, session_prefix, user_id, 0, after, *page],
        )
        more = start + page_size < len(members)
        return _listed(tag, reply[1]), page[-1] if more else ""

    async def peek(self, sid: SessionId, now_ms: int, refresh: RefreshToken | None = None) -> Session | None:
        """A live session, read without writing (may run on a replica); with ``refresh``, only
        while that token can refresh it (not after a risk signal's step-up, step_up.lua)."""
        required_hash = refresh.secret_hash if refresh else ""
        reply = await self._run(self._scripts.peek, [self._keys.session(sid)], [now_ms, required_hash])
        if reply[0] != ScriptCode.OK or (refresh is not None and b"stepup" in reply[1][::2]):
            return None
        return _decode(sid, reply[1])

    async def live_owners(self, sids: Sequence[SessionId], now_ms: int) -> list[str | None]:
        """The user of each session that is live at ``now_ms``, None for an ended one, in
        order; read without writing, one round trip per Redis node.

        The same liveness rule as peek.lua, but as plain HMGETs sent together (a
        one write per node on the lane): reads need neither a script nor one slot, and a lost reply is
        harmless to repeat."""
        if not sids:
            return []
        replies = await self._runner.read_many(
            [("HMGET", self._keys.session(sid), *_LIVENESS_FIELDS) for sid in sids], replica=True
        )
        return [_live_user(reply, now_ms) for reply in replies]

    async def live_owner(self, sid: SessionId, now_ms: int) -> str | None:
        """The user of the session while it is live at ``now_ms``, else None; one HMGET
        (the rule of :meth:`live_owners`), read without writing and retried if lost."""
        reply = await self._runner.read("HMGET", self._keys.session(sid), *_LIVENESS_FIELDS, replica=True)
        return _live_user(reply, now_ms)

    async def ping(self) -> None:
        """Returns when Redis answers PING."""
        await translate_errors(self._client.ping())

    async def close(self) -> None:
        """Closes the lane's connections and the client's pool(s)."""
        await self._runner.close()
        await self._client.aclose()


_LIVENESS_FIELDS = ("idle_exp", "abs_exp", "idle_ms", "active", "created", "user", "stepup")
"""What an access token's liveness is read from (:func:`_live_user`)."""


def _idle_expiry(idle_exp: bytes | None, abs_exp: bytes, idle_ms: bytes, active: bytes) -> int:
    """A session's idle expiry: stored by the full layout, derived in the compact one
    (idle_expiry in _lib.lua). ``active``: the stored one, or the creation time before the
    first touch stores it (compact layout)."""
    if idle_exp is not None:
        return int(idle_exp)
    return min(int(active) + int(idle_ms), int(abs_exp))


def _live_user(fields: Sequence[bytes | None], now_ms: int) -> str | None:
    """The user from an HMGET of :data:`_LIVENESS_FIELDS`, if the session is live (peek.lua's
    rule) and not stepped up (its access tokens were revoked by a risk signal, step_up.lua)."""
    idle_exp, abs_exp, idle_ms, active, created, user, stepped_up = fields
    active = active or created
    if abs_exp is None or idle_ms is None or active is None or user is None or stepped_up is not None:
        return None
    live = now_ms < _idle_expiry(idle_exp, abs_exp, idle_ms, active) and now_ms < int(abs_exp)
    return user.decode() if live else None


def _activity(flat: Sequence[bytes]) -> Activity:
    """What a session hash holds of its recent use (activity.lua's fields), right after a
    rotation: the refreshes of the current window count the generations since it began."""
    fields = _pairs(flat)

    def text(name: bytes) -> str:
        value = fields.get(name)
        return value.decode() if value is not None else ""

    window_at, window_generation = fields.get(b"rw_at"), fields.get(b"rw_g")
    generation = int(fields.get(b"rg", b"0"))
    refreshes = generation - int(window_generation) if window_generation is not None else 1
    return Activity(
        ClientInfo(text(b"lip"), text(b"lua"), text(b"ldv")),
        int(fields[b"lseen"]) if b"lseen" in fields else 0,
        refreshes,
        int(window_at) if window_at is not None else 0,
    )


def _caller_args(callers: frozenset[str] | None) -> list[str | int]:
    """The ARGV tail caller_may_act reads: a count ('' for any caller), then the identities."""
    if callers is None:
        return [""]
    return [len(callers), *sorted(callers)]


def _pairs(flat: Sequence[bytes]) -> dict[bytes, bytes]:
    """A hash from a script's HGETALL reply (field, value, field, value, ...)."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _listed(tag: str, flat: Sequence[Any]) -> list[Session]:
    # list.lua's {member, {session hash}, ...}
    return [_decode(SessionId(tag, flat[i].decode()), flat[i + 1]) for i in range(0, len(flat), 2)]


_json = json.JSONDecoder().decode
"""JSON text we wrote (create.lua's values), without json.loads' encoding detection of bytes."""


def _decode(sid: SessionId, flat: Sequence[bytes]) -> Session:
    # Field names stay bytes: decoding every name of every hash read shows on Get's profile.
    fields = _pairs(flat)
    # claims, scopes, client info and client_id are stored only when not empty (create.lua);
    # the client info as ip/ua/dev, or as one JSON field (client) that stored sessions may hold.
    client_json = fields.get(b"client")
    client = json.loads(client_json) if client_json is not None else {}
    ip, ua, dev = fields.get(b"ip"), fields.get(b"ua"), fields.get(b"dev")
    claims, scopes, client_id = fields.get(b"claims"), fields.get(b"scopes"), fields.get(b"client_id")
    # The compact layout stores no active until the first touch (create.lua): until then it
    # is the creation time.
    active = fields.get(b"active", fields[b"created"])
    return Session(
        session_id=str(sid),
        user_id=fields[b"user"].decode(),
        created_at_ms=int(fields[b"created"]),
        last_active_at_ms=int(active),
        idle_expires_at_ms=_idle_expiry(
            fields.get(b"idle_exp"), fields[b"abs_exp"], fields[b"idle_ms"], active
        ),
        absolute_expires_at_ms=int(fields[b"abs_exp"]),
        # The compact layout stores no version until the first Update (update.lua).
        version=int(fields.get(b"ver", b"1")),
        data={k[2:].decode(): v for k, v in fields.items() if k.startswith(b"d:")},
        claims=_json(claims.decode()) if claims is not None else {},
        scopes=tuple(_json(scopes.decode())) if scopes is not None else (),
        client=ClientInfo(
            ip.decode() if ip is not None else client.get("ip", ""),
            ua.decode() if ua is not None else client.get("user_agent", ""),
            dev.decode() if dev is not None else client.get("device", ""),
        ),
        client_id=client_id.decode() if client_id is not None else "",
        cnf_jkt=jkt.decode() if (jkt := fields.get(b"jkt")) is not None else "",
        idp=_idp(fields),
        last_client=_last_client(fields),
        acr=acr.decode() if (acr := fields.get(b"acr")) is not None else "",
        amr=tuple(amr.decode().split()) if (amr := fields.get(b"amr")) is not None else (),
        auth_time_ms=int(auth_time) if (auth_time := fields.get(b"at")) is not None else 0,
        impersonator=imp.decode() if (imp := fields.get(b"imp")) is not None else "",
    )


def _last_client(fields: dict[bytes, bytes]) -> ClientInfo | None:
    # activity.lua writes lseen with every last client.
    if b"lseen" not in fields:
        return None
    ip, ua, device = (fields.get(name, b"").decode() for name in (b"lip", b"lua", b"ldv"))
    return ClientInfo(ip, ua, device)


def _idp(fields: dict[bytes, bytes]) -> IdpSession | None:
    # create.lua stores the identity provider's fields only when set.
    issuer = fields.get(b"idp_iss")
    if issuer is None:
        return None
    subject, session_id = fields.get(b"idp_sub", b""), fields.get(b"idp_sid", b"")
    return IdpSession(issuer.decode(), subject.decode(), session_id.decode())


def _impersonators(tag: str, flat: Sequence[bytes]) -> dict[str, str]:
    """Session id -> operator from a script's flat {member, impersonator...} reply."""
    return {f"{tag}.{flat[i].decode()}": flat[i + 1].decode() for i in range(0, len(flat) - 1, 2)}


def _joined(first: SessionsEnded, then: SessionsEnded) -> SessionsEnded:
    """Two batches of one end of a user's sessions as one."""
    return SessionsEnded(
        first.reason,
        first.session_ids + then.session_ids,
        first.user_id,
        {**first.impersonators, **then.impersonators},
    )
