"""Stopping background tasks for sure: the server's modules import these from here.

They are :mod:`session_wire.tasks`, which the client's Verifier uses as well.
"""

from __future__ import annotations

from session_wire.tasks import cancel_requested, raise_if_cancel_requested, stop_tasks

__all__ = ["cancel_requested", "raise_if_cancel_requested", "stop_tasks"]
