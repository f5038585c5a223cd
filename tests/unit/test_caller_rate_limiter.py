"""The per-caller rate limiter of transport/admission.py: a sliding window per caller."""

from __future__ import annotations

import pytest

from session_service.transport.admission import CallerRateLimiter


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeMonotonic:
    fake = FakeMonotonic()
    monkeypatch.setattr("session_service.transport.admission.time.monotonic", fake)
    return fake


def test_a_caller_gets_its_rate_per_window_then_a_delay_under_a_second(clock: FakeMonotonic) -> None:
    limiter = CallerRateLimiter(5)
    assert [limiter.hit("a") for _ in range(5)] == [0.0] * 5
    wait = limiter.hit("a")
    assert 0 < wait <= 1.0
    # Another caller has its own budget.
    assert limiter.hit("b") == 0.0


def test_the_previous_window_counts_in_proportion_to_its_overlap(clock: FakeMonotonic) -> None:
    limiter = CallerRateLimiter(10)
    for _ in range(10):
        assert limiter.hit("a") == 0.0
    clock.now += 1.5  # half of the previous window still overlaps: 5 of its 10 calls count
    admitted = sum(limiter.hit("a") == 0.0 for _ in range(10))
    assert admitted == 5


def test_idle_callers_are_forgotten(clock: FakeMonotonic) -> None:
    limiter = CallerRateLimiter(3)
    for caller in ("a", "b", "c"):
        limiter.hit(caller)
    clock.now += 1.0
    limiter.hit("a")
    clock.now += 1.0
    limiter.hit("a")
    assert set(limiter._counts) == {"a"}
    clock.now += 5.0
    assert limiter.hit("b") == 0.0
    assert set(limiter._counts) == {"b"}


def test_a_call_of_many_units_is_charged_them_all(clock: FakeMonotonic) -> None:
    limiter = CallerRateLimiter(20)
    assert limiter.hit("a", 15) == 0.0
    wait = limiter.hit("a", 10)  # more than the 5 left
    assert 0 < wait <= 1.0
    assert limiter.hit("a", 5) == 0.0  # a refused call charged nothing
    assert limiter.hit("a") > 0


def test_a_call_larger_than_the_whole_budget_waits_for_an_unspent_second(clock: FakeMonotonic) -> None:
    limiter = CallerRateLimiter(10)
    assert limiter.hit("a", 50) == 0.0  # charged as the whole budget, not refused for ever
    assert limiter.hit("a") > 0
    clock.now += 2.0
    assert limiter.hit("a", 50) == 0.0
