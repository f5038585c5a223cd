"""The replica's admission bounds of transport/admission.py: watcher slots per caller."""

from __future__ import annotations

from typing import Any

import pytest
from session_wire.v1 import session_pb2 as pb

from session_service.errors import Overloaded
from session_service.transport.admission import Admission


class Peer:
    """The part of a servicer context admission reads."""

    def __init__(self, address: str) -> None:
        self.address = address

    def peer(self) -> str:
        return self.address


def _enter(admission: Admission, address: str) -> str:
    context: Any = Peer(address)
    return admission.enter(context, pb.WatchRevocationsRequest(), watch=True)


def test_each_caller_has_its_own_watcher_slots_and_an_ended_stream_frees_one() -> None:
    admission = Admission(
        max_concurrent_rpcs=0, max_watchers=10, caller_rate_limit=0, max_watchers_per_caller=2
    )
    # Two connections of one process (other ports) are one caller.
    held = [_enter(admission, "ipv4:10.0.0.7:5001"), _enter(admission, "ipv4:10.0.0.7:5002")]
    assert held == ["ipv4:10.0.0.7", "ipv4:10.0.0.7"]
    with pytest.raises(Overloaded, match="revocation watchers of this caller") as refused:
        _enter(admission, "ipv4:10.0.0.7:5003")
    assert refused.value.retry_after_s > 0
    assert _enter(admission, "ipv6:[::1]:5001") == "ipv6:[::1]"  # another caller
    admission.leave(held[0], watch=True)
    assert _enter(admission, "ipv4:10.0.0.7:5004") == "ipv4:10.0.0.7"


def test_the_replica_cap_holds_whatever_the_callers() -> None:
    admission = Admission(
        max_concurrent_rpcs=0, max_watchers=2, caller_rate_limit=0, max_watchers_per_caller=2
    )
    _enter(admission, "ipv4:10.0.0.1:1")
    _enter(admission, "ipv4:10.0.0.2:1")
    with pytest.raises(Overloaded, match=r"too many revocation watchers$"):
        _enter(admission, "ipv4:10.0.0.3:1")
