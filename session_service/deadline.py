"""The current call's deadline, set by the transport and honoured by the store's retries."""

from __future__ import annotations

import time
from contextvars import ContextVar

call_deadline: ContextVar[float | None] = ContextVar("call_deadline", default=None)
"""time.monotonic() value by which the current RPC must have answered, if the caller set one."""

ANSWER_MARGIN = 0.05
"""Seconds kept in reserve so an UNAVAILABLE reaches the caller before its deadline does."""


def remaining(budget: float) -> float:
    """Seconds left for retries: ``budget``, cut short by the call's deadline."""
    deadline = call_deadline.get()
    if deadline is None:
        return budget
    return max(0.0, min(budget, deadline - time.monotonic() - ANSWER_MARGIN))
