"""The revocation view both the Verifier and the gateway check keep: what it remembers, for
how long, when it may be trusted, and how its follower reconnects."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from session_wire.revocations import Backoff, RevocationEvent, RevocationView, follow_revocations

NOW = 1_800_000_000.0


class Clocks:
    """Epoch seconds and monotonic seconds, moved by hand."""

    def __init__(self) -> None:
        self.epoch = NOW
        self.mono = 100.0

    def advance(self, seconds: float) -> None:
        self.epoch += seconds
        self.mono += seconds


def _view(clocks: Clocks, *, lagging: list[bool] | None = None) -> RevocationView:
    return RevocationView(
        leeway=5,
        max_staleness=3,
        clock=lambda: clocks.epoch,
        monotonic=lambda: clocks.mono,
        lagging=None if lagging is None else (lambda: lagging[0]),
    )


def test_a_revocation_is_remembered_with_its_reason_until_its_tokens_and_the_leeway_have_expired() -> None:
    clocks = Clocks()
    view = _view(clocks)
    view.apply([RevocationEvent(("s1", "s2"), NOW + 60, "REVOKED")], cursor="1-0", caught_up=True)
    assert view.is_revoked("s1") and view.is_revoked("s2") and not view.is_revoked("s3")
    assert (view.reason("s1"), view.reason("s3"), len(view)) == ("REVOKED", "", 2)
    clocks.advance(60 + 5 - 0.001)
    assert view.is_revoked("s1")
    clocks.advance(0.001)
    assert not view.is_revoked("s1")
    assert len(view) == 0


def test_a_later_revocation_of_the_same_session_extends_it_and_an_earlier_one_does_not_cut_it_short() -> None:
    clocks = Clocks()
    view = _view(clocks)
    view.apply([RevocationEvent(("s1",), NOW + 10)], cursor="1-0")
    view.apply([RevocationEvent(("s1",), NOW + 100)], cursor="2-0")
    view.apply([RevocationEvent(("s1",), NOW + 20)], cursor="3-0")
    clocks.advance(50)
    assert view.is_revoked("s1")
    clocks.advance(60)
    assert not view.is_revoked("s1")


def test_a_revocation_whose_tokens_have_already_expired_is_not_remembered() -> None:
    view = _view(Clocks())
    view.apply([RevocationEvent(("old",), NOW - 5)], cursor="1-0")
    assert not view.is_revoked("old") and len(view) == 0


def test_the_cursor_follows_the_stream_and_a_heartbeat_without_one_keeps_it() -> None:
    view = _view(Clocks())
    assert view.cursor == ""
    view.apply([], cursor="7-0")
    view.apply([], cursor="")
    assert view.cursor == "7-0"


def test_the_view_is_fresh_only_after_catching_up_and_while_the_stream_is_heard_from() -> None:
    clocks = Clocks()
    view = _view(clocks)
    assert view.stale and view.staleness == float("inf")
    view.apply([], cursor="1-0")  # still replaying
    assert not view.fresh(NOW) and view.seconds_since_contact == 0
    view.apply([], cursor="1-0", caught_up=True)
    assert view.fresh(NOW)
    clocks.advance(3)
    assert view.fresh(NOW)
    clocks.advance(0.5)  # longer than max_staleness without a message
    assert view.stale and not view.fresh(NOW)
    view.apply([], cursor="1-0")  # a heartbeat
    assert view.fresh(NOW)


def test_a_new_connection_renews_the_view_only_once_it_has_caught_up() -> None:
    clocks = Clocks()
    view = _view(clocks)
    view.apply([], cursor="1-0", caught_up=True)
    view.reconnecting()
    clocks.advance(2)
    view.apply([], cursor="1-0")  # a replayed message: the view is not complete yet
    assert view.staleness == 2 and view.seconds_since_contact == 0
    clocks.advance(2)
    assert view.stale
    view.apply([], cursor="1-0", caught_up=True)
    assert not view.stale


def test_while_events_wait_upstream_a_flowing_stream_is_not_trusted() -> None:
    lagging = [False]
    view = _view(Clocks(), lagging=lagging)
    view.apply([], cursor="1-0", caught_up=True)
    assert view.fresh(NOW)
    lagging[0] = True
    view.apply([], cursor="1-0")
    assert view.stale and not view.fresh(NOW)


def test_after_a_lost_cursor_only_tokens_issued_later_are_vouched_for() -> None:
    view = _view(Clocks())
    view.apply([], cursor="5-0", cursor_reset=True, caught_up=True)
    assert view.missed_before == NOW
    assert not view.stale
    assert view.may_have_missed(NOW - 60) and view.may_have_missed(NOW) and view.may_have_missed(None)
    assert not view.fresh(NOW)
    assert view.fresh(NOW + 1)


def test_backoff_doubles_with_jitter_up_to_its_maximum_and_starts_over_after_a_reset() -> None:
    backoff = Backoff(maximum=0.4, first=0.1)
    delays = [backoff.next_delay() for _ in range(5)]
    for delay, base in zip(delays, (0.1, 0.2, 0.4, 0.4, 0.4), strict=True):
        assert 0.5 * base <= delay < 1.5 * base
    backoff.reset()
    assert backoff.next_delay() < 0.15


class StreamError(Exception):
    """An error the follower expects from its stream."""


async def test_the_follower_resumes_from_the_cursor_after_the_stream_fails_ends_or_stays_silent(
    caplog: Any,
) -> None:
    clocks = Clocks()
    view = _view(clocks)
    opened: list[str] = []
    closed: list[str] = []
    fifth = asyncio.Event()

    async def watch(cursor: str) -> AsyncIterator[tuple[str, bool]]:
        opened.append(cursor)
        if len(opened) == 5:
            fifth.set()
        try:
            attempt = len(opened)
            yield (f"{attempt}-0", True)
            if attempt == 1:
                raise StreamError("connection reset")
            if attempt == 2:
                raise ValueError("an unexpected reply")
            if attempt == 3:
                return
            await asyncio.sleep(3600)  # silent
        finally:
            closed.append(cursor)

    def apply(message: tuple[str, bool]) -> None:
        cursor, caught_up = message
        view.apply([], cursor=cursor, caught_up=caught_up)

    follower = asyncio.create_task(
        follow_revocations(
            view,
            watch,
            apply,
            what="test stream",
            expected_errors=(StreamError,),
            max_backoff=0.01,
            max_silence=0.1,
        )
    )
    with caplog.at_level(logging.INFO, logger="session_wire.revocations"):
        try:
            async with asyncio.timeout(5):
                await fifth.wait()
        finally:
            follower.cancel()
            with pytest.raises(asyncio.CancelledError):
                await follower
    assert opened[:5] == ["", "1-0", "2-0", "3-0", "4-0"]
    assert closed[:4] == opened[:4]  # every stream is closed before the next one opens
    assert "test stream failed (connection reset)" in caplog.text
    assert "test stream broke unexpectedly" in caplog.text
    assert "test stream ended" in caplog.text
    assert "test stream silent for 0.1s" in caplog.text


async def test_the_follower_ends_when_cancelled_although_the_stream_turned_it_into_an_error() -> None:
    view = _view(Clocks())
    started = asyncio.Event()

    async def watch(cursor: str) -> AsyncIterator[int]:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise StreamError("CANCELLED") from None
        yield 0

    follower = asyncio.create_task(
        follow_revocations(
            view, watch, lambda _: None, what="test stream", expected_errors=(StreamError,), max_backoff=0.01
        )
    )
    await started.wait()
    follower.cancel()
    async with asyncio.timeout(2):
        with pytest.raises(asyncio.CancelledError):
            await follower
