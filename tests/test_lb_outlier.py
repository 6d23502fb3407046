"""OutlierEjection: consecutive failures and low success rates eject, for a growing time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kitcore.endpoint import Endpoint
from kitcore.errors import NotFound, Unavailable
from kitcore.lb import OutlierEjection, RoundRobin, retry
from kitcore.sd import FixedEndpointer
from kitcore.testing.lb import Fleet


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Flaky:
    """An endpoint failing while ``down``; with ``error`` its failures are that error."""

    def __init__(self, name: str, error: Exception | None = None) -> None:
        self.name = name
        self.down = False
        self.error = error or Unavailable(f"{name} down")

    async def __call__(self, request: Any) -> Any:
        if self.down:
            raise self.error
        return self.name


async def call_each(source: OutlierEjection, times: int = 1) -> list[Any]:
    answers = []
    for _ in range(times):
        for endpoint in await source.endpoints():
            try:
                answers.append(await endpoint(None))
            except Exception as exc:
                answers.append(exc)
    return answers


def names(endpoints: tuple[Endpoint, ...]) -> list[str]:
    return [e.endpoint.name for e in endpoints]  # type: ignore[attr-defined]


async def test_consecutive_failures_eject_for_a_doubling_time() -> None:
    clock = Clock()
    a, b, c = Flaky("a"), Flaky("b"), Flaky("c")
    source = OutlierEjection(
        FixedEndpointer([a, b, c]), consecutive_failures=3, base_ejection=10, clock=clock
    )
    a.down = True
    await call_each(source, 3)
    assert names(await source.endpoints()) == ["b", "c"]
    assert source.ejected() == [a]
    clock.now = 10.0
    assert names(await source.endpoints()) == ["a", "b", "c"]  # back after 10 s
    await call_each(source, 3)
    assert names(await source.endpoints()) == ["b", "c"]
    clock.now = 29.0
    assert names(await source.endpoints()) == ["b", "c"]  # second ejection: 20 s
    clock.now = 30.0
    a.down = False
    assert names(await source.endpoints()) == ["a", "b", "c"]


async def test_a_success_resets_the_consecutive_count_and_caller_faults_never_count() -> None:
    a = Flaky("a", NotFound("no such thing"))
    source = OutlierEjection(FixedEndpointer([a, Flaky("b")]), consecutive_failures=2)
    a.down = True
    await call_each(source, 5)
    assert source.ejected() == []
    a.error = Unavailable("down")
    for _ in range(3):
        await call_each(source)
        a.down = not a.down  # fail, succeed, fail: never two in a row
    assert source.ejected() == []


async def test_never_more_than_the_share_of_the_fleet_but_always_one_of_two() -> None:
    endpoints = [Flaky(n) for n in "abcd"]
    source = OutlierEjection(
        FixedEndpointer(endpoints), consecutive_failures=1, max_ejected_share=0.5
    )
    for e in endpoints:
        e.down = True
    await call_each(source, 3)
    assert len(source.ejected()) == 2
    assert len(await source.endpoints()) == 2
    pair = OutlierEjection(FixedEndpointer([Flaky("x"), Flaky("y")]), consecutive_failures=1)
    for watched in await pair.endpoints():
        watched.endpoint.down = True  # type: ignore[attr-defined]
    await call_each(pair, 3)
    assert len(pair.ejected()) == 1
    # A lone instance is never ejected, so it is handed out as it is, unwatched.
    z = Flaky("z")
    single = OutlierEjection(FixedEndpointer([z]), consecutive_failures=1)
    assert tuple(await single.endpoints()) == (z,)
    z.down = True
    await call_each(single, 3)
    assert single.ejected() == []
    assert tuple(await single.endpoints()) == (z,)
    # Unless the whole fleet may go: then even a lone instance is watched.
    w = Flaky("w")
    whole = OutlierEjection(FixedEndpointer([w]), consecutive_failures=1, max_ejected_share=1.0)
    w.down = True
    await call_each(whole, 1)
    assert whole.ejected() == [w]
    assert await whole.endpoints() == ()


async def test_a_success_rate_below_the_fleets_by_the_margin_ejects() -> None:
    clock = Clock()

    class Rate:
        def __init__(self, name: str, every: int) -> None:
            self.name, self.every, self.calls = name, every, 0

        async def __call__(self, request: Any) -> Any:
            self.calls += 1
            if self.every and self.calls % self.every == 0:
                raise Unavailable("hiccup")
            return self.name

    good = [Rate(n, 0) for n in "abcd"]
    bad = Rate("e", 2)  # 50% success, never twice in a row
    source = OutlierEjection(
        FixedEndpointer([*good, bad]),
        consecutive_failures=5,
        interval=10,
        success_rate_margin=0.2,
        success_rate_volume=20,
        clock=clock,
    )
    await call_each(source, 40)
    assert source.ejected() == []
    clock.now = 10.0
    await source.endpoints()
    assert source.ejected() == [bad]


async def test_ejection_under_concurrent_retries_through_a_real_endpointer() -> None:
    async with Fleet("a:1", "b:2", "c:3") as fleet:
        fleet["a:1"].failing = True
        source = OutlierEjection(fleet.endpointer, consecutive_failures=2, base_ejection=60)
        call = retry(3, 5.0, RoundRobin(source))
        answers = await asyncio.gather(*(call(i) for i in range(60)))
        assert set(answers) == {"b:2", "c:3"}
        assert fleet["a:1"].calls <= 4  # ejected after its second failure in a row
        # The ejected instance leaves discovery; a new one joins: no state is kept for
        # the old one, and the new one takes calls.
        await fleet.remove("a:1")
        await fleet.add("d:4")
        answers = await asyncio.gather(*(call(i) for i in range(30)))
        assert set(answers) == {"b:2", "c:3", "d:4"}
        assert len(source._watched) == 3


async def test_a_cancelled_call_is_not_a_failure() -> None:
    async with Fleet("a:1", "b:2") as fleet:
        fleet["a:1"].hung = True
        source = OutlierEjection(fleet.endpointer, consecutive_failures=1)
        (a, _) = await source.endpoints()
        tasks = [asyncio.ensure_future(a(None)) for _ in range(3)]
        await fleet.until(lambda: fleet["a:1"].in_flight >= 3)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert source.ejected() == []


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        OutlierEjection(FixedEndpointer([]), consecutive_failures=0)
    with pytest.raises(ValueError):
        OutlierEjection(FixedEndpointer([]), base_ejection=10, max_ejection=5)


async def test_calls_cut_by_their_attempt_timeout_count_as_failures() -> None:
    from kitcore.lb import AttemptTimeout

    async with Fleet("a:1", "b:2") as fleet:
        fleet["a:1"].hung = True
        source = OutlierEjection(fleet.endpointer, consecutive_failures=2)
        call = retry(2, 0.2, RoundRobin(source), attempt_timeout=AttemptTimeout())
        answers = [await call(i) for i in range(6)]
        assert answers == ["b:2"] * 6
        assert [e for e in source.ejected()] == [(await fleet.endpointer.endpoints())[0]]
        assert fleet["a:1"].calls == 2 and fleet["a:1"].cancelled == 2


async def test_a_lone_instance_is_watched_once_a_second_joins() -> None:
    async with Fleet("a") as fleet:
        outliers = OutlierEjection(fleet.endpointer, consecutive_failures=2)
        assert tuple(await outliers.endpoints()) == tuple(await fleet.endpointer.endpoints())
        await fleet.add("b")
        fleet["a"].failing = True
        await call_each(outliers, 2)
        assert len(outliers.ejected()) == 1
        assert [await e(None) for e in await outliers.endpoints()] == ["b"]
