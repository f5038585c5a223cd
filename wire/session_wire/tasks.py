"""Stopping background tasks for sure, for the server and the client alike.

A cancellation can be lost. A library may turn ``CancelledError`` into an error of its own
(redis-py's connection errors, a gRPC status) or swallow it (grpc.aio's unary call on some
paths), and a ``while True`` loop that retries on errors then goes on as if nothing had
happened. Awaiting such a task after ``cancel()`` waits for ever: a replica that never
finishes shutting down, a test fixture that hangs.

So the loops ask :func:`cancel_requested` before they retry, and a stop goes through
:func:`stop_tasks`: cancel, wait a bounded time, and report what would not end instead of
hanging with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

__all__ = ["cancel_requested", "raise_if_cancel_requested", "stop_tasks"]

log = logging.getLogger(__name__)


def cancel_requested() -> bool:
    """Whether the running task has been asked to stop (even if the CancelledError was lost)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def raise_if_cancel_requested() -> None:
    """For the error handler of a retry loop: a lost cancellation ends the loop anyway."""
    if cancel_requested():
        raise asyncio.CancelledError


async def stop_tasks(tasks: Iterable[asyncio.Task[object]], *, within: float, what: str) -> bool:
    """Cancels the tasks and waits up to ``within`` seconds for them to end.

    Returns whether all ended. A task that does not end is left behind with an error
    log naming it, instead of holding up the caller. Unlike awaiting the tasks, a
    cancellation of the caller itself is never absorbed here."""
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        _, stuck = await asyncio.wait(pending, timeout=within)
    else:
        stuck = set()
    for task in stuck:
        log.error("%s: task %s did not stop within %.1fs; leaving it behind", what, task.get_name(), within)
    for task in pending:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.warning("%s: task %s ended with %r", what, task.get_name(), task.exception())
    return not stuck
