from __future__ import annotations

import asyncio
import dataclasses
import random

import pytest

from kitcore.backoff import Backoff


def test_delays_grow_exponentially_up_to_the_cap_without_jitter() -> None:
    backoff = Backoff(base=0.1, cap=1.0, factor=2.0, jitter=False)
    assert [backoff.delay(n) for n in range(6)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_full_jitter_draws_between_zero_and_the_exponential_delay() -> None:
    backoff = Backoff(base=0.1, cap=1.0, rng=random.Random(7))
    for attempt in range(8):
        ceiling = min(1.0, 0.1 * 2**attempt)
        draws = [backoff.delay(attempt) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in draws)
        assert max(draws) > 0.8 * ceiling and min(draws) < 0.2 * ceiling


def test_an_injected_rng_makes_delays_reproducible() -> None:
    first = Backoff(rng=random.Random(42))
    second = Backoff(rng=random.Random(42))
    assert [first.delay(n) for n in range(10)] == [second.delay(n) for n in range(10)]


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    backoff = Backoff(base=0.05, cap=5.0, jitter=False)
    assert backoff.delay(10_000) == 5.0


@pytest.mark.parametrize(
    "kwargs", [{"base": -1.0}, {"cap": -0.1}, {"factor": 0.5}], ids=["base", "cap", "factor"]
)
def test_invalid_parameters_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)  # type: ignore[arg-type]


def test_negative_attempt_is_rejected() -> None:
    with pytest.raises(ValueError, match="attempt"):
        Backoff().delay(-1)


def test_backoff_is_frozen_and_compares_without_its_rng() -> None:
    backoff = Backoff(rng=random.Random(1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        backoff.base = 1.0  # type: ignore[misc]
    assert backoff == Backoff(rng=random.Random(2))
    assert backoff != Backoff(base=0.1)


async def test_sleep_waits_for_the_delay() -> None:
    sleeping = asyncio.ensure_future(Backoff(base=0.05, jitter=False).sleep(0))
    await asyncio.sleep(0)
    assert not sleeping.done()
    await sleeping
    await Backoff(base=0.0, jitter=False).sleep(3)
