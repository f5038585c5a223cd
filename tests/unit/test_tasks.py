"""Stopping background tasks when a library loses their cancellation."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from session_wire.tasks import raise_if_cancel_requested, stop_tasks


class LibraryError(Exception):
    """What a client library may raise instead of CancelledError."""


async def _call_that_converts_cancellation() -> None:
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        raise LibraryError("CANCELLED") from None


async def test_a_retry_loop_ends_although_its_cancellation_became_an_error() -> None:
    rounds = 0

    async def loop() -> None:
        nonlocal rounds
        while True:
            rounds += 1
            try:
                await _call_that_converts_cancellation()
            except LibraryError:
                raise_if_cancel_requested()
            await asyncio.sleep(0)

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.01)
    assert await stop_tasks([task], within=2.0, what="test")
    assert task.cancelled() and rounds == 1


async def test_a_task_that_ignores_cancellation_is_left_behind_within_the_bound(caplog: Any) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                asyncio.current_task().uncancel()  # type: ignore[union-attr]

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0.01)
    started = time.monotonic()
    with caplog.at_level(logging.ERROR):
        assert not await stop_tasks([task], within=0.2, what="test")
    assert 0.2 <= time.monotonic() - started < 1.0
    assert "stubborn did not stop" in caplog.text
    release.set()
    task.cancel()
    await asyncio.wait({task}, timeout=1)


async def test_the_callers_own_cancellation_is_not_absorbed() -> None:
    async def slow() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(0.5)  # a slow clean-up

    inner = asyncio.create_task(slow())
    await asyncio.sleep(0.01)
    outer = asyncio.create_task(stop_tasks([inner], within=5.0, what="test"))
    await asyncio.sleep(0.05)
    outer.cancel()
    done, _ = await asyncio.wait({outer}, timeout=1.0)
    assert outer in done and outer.cancelled()
    await asyncio.wait({inner}, timeout=1)
