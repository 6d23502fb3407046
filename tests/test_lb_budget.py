"""RetryBudget and LatencyHistogram: the accounting behind budgeted retries and hedges."""

from __future__ import annotations

import asyncio
import random

import pytest

from kitcore.errors import Unavailable
from kitcore.lb import RetryBudget, RetryError, RoundRobin, retry
from kitcore.lb.latency import LatencyHistogram
from kitcore.testing.lb import Fleet


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_reserve_pays_min_retries_per_second_times_ttl() -> None:
    budget = RetryBudget(ttl=10, min_retries_per_second=2, percent_can_retry=0.2, clock=Clock())
    assert budget.balance == 20
    assert all(budget.try_withdraw() for _ in range(20))
    assert not budget.try_withdraw()
    assert budget.balance == 0


def test_deposits_earn_percent_can_retry_of_a_retry_each() -> None:
    budget = RetryBudget(ttl=10, min_retries_per_second=0, percent_can_retry=0.2, clock=Clock())
    assert not budget.try_withdraw()
    for _ in range(100):
        budget.deposit()
    assert budget.balance == 20
    assert sum(budget.try_withdraw() for _ in range(50)) == 20


def test_tokens_and_withdrawals_expire_after_ttl() -> None:
    clock = Clock()
    budget = RetryBudget(ttl=10, min_retries_per_second=0, percent_can_retry=0.5, clock=clock)
    for _ in range(10):
        budget.deposit()
    assert budget.balance == 5
    clock.now = 5.0
    assert budget.try_withdraw()
    clock.now = 10.5  # the deposits (t=0) left the window; the withdrawal (t=5) has not
    assert budget.balance == 0
    clock.now = 15.5
    for _ in range(2):
        budget.deposit()
    assert budget.balance == 1
    clock.now = 1000.0  # a long idle gap empties the window
    assert budget.balance == 0


def test_steady_traffic_retries_at_most_percent_not_percent_plus_the_floor() -> None:
    clock = Clock()
    budget = RetryBudget(ttl=10, min_retries_per_second=1, percent_can_retry=0.1, clock=clock)
    retries = 0
    for tick in range(10_000):  # 100 s of 100 requests/s, each wanting a retry
        clock.now = tick / 100
        budget.deposit()
        retries += budget.try_withdraw()
    # 10% of the requests; the floor (1/s) only lends the first window a head start.
    assert 1000 <= retries <= 1000 + 10


def test_light_traffic_gets_the_floor_of_retries() -> None:
    clock = Clock()
    budget = RetryBudget(ttl=10, min_retries_per_second=1, percent_can_retry=0.2, clock=clock)
    retries = 0
    for second in range(100):  # 1 request/s, each wanting three retries
        clock.now = float(second)
        budget.deposit()
        retries += sum(budget.try_withdraw() for _ in range(3))
    # 20% alone would allow 20; the floor allows one a second.
    assert 95 <= retries <= 110


def test_bad_budgets_are_refused() -> None:
    with pytest.raises(ValueError, match="ttl"):
        RetryBudget(ttl=0)
    with pytest.raises(ValueError, match="min_retries_per_second"):
        RetryBudget(min_retries_per_second=-1)
    with pytest.raises(ValueError, match="percent_can_retry"):
        RetryBudget(percent_can_retry=-0.1)


async def test_an_outage_under_concurrent_load_costs_at_most_the_budget() -> None:
    async with Fleet("a:1", "b:2", "c:3") as fleet:
        for instance in fleet.instances.values():
            instance.failing = True
        budget = RetryBudget(min_retries_per_second=0, percent_can_retry=0.2)
        call = retry(3, 5.0, RoundRobin(fleet.endpointer), budget=budget)
        results = await asyncio.gather(*(call(i) for i in range(500)), return_exceptions=True)
        assert all(isinstance(r, RetryError) for r in results)
        attempts = sum(i.calls for i in fleet.instances.values())
        assert attempts <= 500 * 1.2 + 1  # Go kit's Retry(3) would send 1,500
        exhausted = [r for r in results if isinstance(r, RetryError) and r.reason]
        assert exhausted and all(isinstance(r.final, Unavailable) for r in exhausted)
        assert "retry budget exhausted" in str(exhausted[0])


async def test_the_default_budget_caps_an_outage_at_1_2x_at_any_rate() -> None:
    async with Fleet("a:1", "b:2", "c:3") as fleet:
        for instance in fleet.instances.values():
            instance.failing = True
        call = retry(3, 5.0, RoundRobin(fleet.endpointer), budget=RetryBudget())
        results = await asyncio.gather(*(call(i) for i in range(1000)), return_exceptions=True)
        assert all(isinstance(r, RetryError) for r in results)
        # 20% of 1,000 requests: 200 retries; the 10/s floor (100 in 10 s) is not added.
        assert sum(i.calls for i in fleet.instances.values()) == 1200


def test_histogram_quantiles_are_within_five_percent() -> None:
    rng = random.Random(7)
    samples = sorted(rng.expovariate(100.0) for _ in range(10_000))
    histogram = LatencyHistogram(clock=Clock())
    for s in samples:
        histogram.record(s)
    for q in (0.5, 0.9, 0.99):
        exact = samples[int(q * len(samples)) - 1]
        estimate = histogram.quantile(q)
        assert estimate is not None
        assert exact * 0.95 <= estimate <= exact * 1.11


def test_histogram_forgets_samples_older_than_its_window() -> None:
    clock = Clock()
    histogram = LatencyHistogram(window=10, clock=clock)
    assert histogram.quantile(0.5) is None
    for _ in range(100):
        histogram.record(1.0)
    clock.now = 6.0
    for _ in range(100):
        histogram.record(0.001)
    assert histogram.count == 200
    clock.now = 11.0  # the 1 s samples are two halves old
    assert histogram.count == 100
    q = histogram.quantile(0.99)
    assert q is not None and q < 0.0011
    clock.now = 100.0
    assert histogram.count == 0
