"""The expiry sweep's request budget: at most ``rate`` requests a second, whatever the
number of queues (no server needed)."""

from __future__ import annotations

from natswire.amqp.sweep import RequestBudget


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_requests_taken_at_once_wait_for_their_slots() -> None:
    clock = Clock()
    budget = RequestBudget(2.0, clock)
    assert [budget.delay() for _ in range(4)] == [0.0, 0.5, 1.0, 1.5]


def test_a_budget_unused_for_a_while_does_not_save_up_a_burst() -> None:
    clock = Clock()
    budget = RequestBudget(2.0, clock)
    budget.delay()
    clock.now += 60.0
    assert budget.delay() == 0.0
    assert budget.delay() == 0.5


def test_over_ten_seconds_a_busy_sweep_spends_at_most_rate_times_ten() -> None:
    clock = Clock()
    budget = RequestBudget(2.0, clock)
    spent = 0
    while True:
        wait = budget.delay()
        if wait >= 10.0:
            break
        spent += 1
    assert spent == 20
