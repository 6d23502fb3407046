"""PeakEwma: latency-aware P2C over a real Endpointer, with cold start and churn."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from kitcore import context
from kitcore.endpoint import Endpoint
from kitcore.errors import NotFound, Unavailable
from kitcore.lb import PeakEwma, RoundRobin, retry
from kitcore.sd import FixedEndpointer
from kitcore.testing.lb import Fleet


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def timed(clock: Clock, seconds: float, name: str, error: Exception | None = None) -> Endpoint:
    """An endpoint that takes ``seconds`` of the fake clock, then answers or raises."""

    async def endpoint(request: Any) -> Any:
        clock.now += seconds
        if error is not None:
            raise error
        return name

    return endpoint


async def test_a_ten_times_slower_instance_gets_few_calls() -> None:
    clock = Clock()
    endpoints = [timed(clock, 0.001, f"fast{i}") for i in range(4)]
    endpoints.append(timed(clock, 0.010, "slow"))
    balancer = PeakEwma(FixedEndpointer(endpoints), rng=random.Random(1), clock=clock)
    picks = [await (await balancer.endpoint())(None) for _ in range(2000)]
    share = picks.count("slow") / len(picks)
    assert share <= 0.05  # round robin: 20%
    assert share > 0  # decay brings it back now and then


async def test_an_instance_that_fails_fast_does_not_draw_the_traffic() -> None:
    clock = Clock()
    broken = timed(clock, 0.0001, "broken", Unavailable("down"))
    balancer = PeakEwma(
        FixedEndpointer([broken, timed(clock, 0.001, "ok")]), rng=random.Random(2), clock=clock
    )
    picks = []
    for _ in range(200):
        chosen = await balancer.endpoint()
        try:
            picks.append(await chosen(None))
        except Unavailable:
            picks.append("broken")
    assert picks.count("broken") <= 20


async def test_caller_faults_are_not_penalised() -> None:
    clock = Clock()
    balancer = PeakEwma(FixedEndpointer([timed(clock, 0.001, "a", NotFound("x"))]), clock=clock)
    chosen = await balancer.endpoint()
    with pytest.raises(NotFound):
        await chosen(None)
    assert all(c is not None and c < 0.01 for c in balancer.costs().values())


async def test_a_new_instance_gets_one_probe_then_its_measured_share() -> None:
    clock = Clock()
    a, b = timed(clock, 0.002, "a"), timed(clock, 0.004, "b")
    source = [a, b]

    class Source:
        async def endpoints(self) -> list[Endpoint]:
            return list(source)

    balancer = PeakEwma(Source(), decay=1e9, rng=random.Random(5), clock=clock)
    for _ in range(50):
        await (await balancer.endpoint())(None)
    newcomer = timed(clock, 0.001, "new")
    source.append(newcomer)
    assert newcomer not in balancer.costs()
    # Unmeasured and idle: any pairing with it picks it, once.
    picks = [await (await balancer.endpoint())(None) for _ in range(20)]
    assert "new" in picks
    cost = balancer.costs()[newcomer]
    assert cost is not None and cost < 0.002  # now measured, the fastest, so it is picked
    assert picks[-5:].count("new") >= 3
    source.remove(a)
    await balancer.endpoint()
    assert a not in balancer.costs()


async def test_in_flight_calls_raise_the_cost_under_concurrency() -> None:
    async with Fleet("a:1", "b:2", "c:3") as fleet:
        fleet["a:1"].hung = True
        balancer = PeakEwma(fleet.endpointer, rng=random.Random(3))
        call = retry(1, 5.0, balancer)
        hung = [asyncio.ensure_future(call(i)) for i in range(6)]
        await fleet.until(lambda: fleet["a:1"].in_flight > 0)
        await asyncio.sleep(0)
        answers = await asyncio.gather(*(call(i) for i in range(60)))
        # With calls piled up on a:1 (cost x in flight), it loses every pairing.
        assert answers.count("a:1") == 0
        fleet["a:1"].release()
        await asyncio.gather(*hung)


async def test_instances_join_and_leave_mid_flight() -> None:
    async with Fleet("a:1", "b:2") as fleet:
        balancer = PeakEwma(fleet.endpointer, rng=random.Random(4))
        fleet["a:1"].hung = True
        call = retry(1, 5.0, balancer)
        before = [asyncio.ensure_future(call(i)) for i in range(10)]
        await asyncio.sleep(0)
        await fleet.remove("a:1")
        await fleet.add("c:3")
        after = await asyncio.gather(*(call(i) for i in range(40)))
        # The newcomer is probed at once; then the cheaper of the two takes the calls.
        assert "c:3" in after and set(after) <= {"b:2", "c:3"}
        fleet["a:1"].release()
        assert set(await asyncio.gather(*before)) <= {"a:1", "b:2"}
        assert len(balancer.costs()) == 2


async def test_round_robin_as_the_baseline_sends_the_slow_instance_its_share() -> None:
    clock = Clock()
    endpoints = [timed(clock, 0.001, f"fast{i}") for i in range(4)]
    endpoints.append(timed(clock, 0.010, "slow"))
    balancer = RoundRobin(FixedEndpointer(endpoints))
    picks = [await (await balancer.endpoint())(None) for _ in range(100)]
    assert picks.count("slow") == 20


async def test_a_call_its_caller_cancels_costs_nothing_but_one_cut_by_its_timeout_does() -> None:
    async with Fleet("a:1", "b:2") as fleet:
        balancer = PeakEwma(fleet.endpointer, rng=random.Random(5), penalty=2.0)
        await balancer.endpoint()  # a pairing of the two: both are wrapped now
        by_name = {await m.endpoint(None): m for m in balancer._measured}
        a = by_name["a:1"]
        fleet["a:1"].hung = True

        caller_gone = asyncio.ensure_future(a(None))
        await fleet.until(lambda: fleet["a:1"].in_flight == 1)
        caller_gone.cancel()  # the caller went away: that says nothing of a:1
        await asyncio.gather(caller_gone, return_exceptions=True)
        assert a.in_flight == 0 and not a.measured

        # Bounded as Retry bounds an attempt: the scope cancels the call when it ends.
        cut = asyncio.ensure_future(context.enforce(a(None), until=context.now() + 0.05))
        await fleet.until(lambda: fleet["a:1"].in_flight == 1)
        await asyncio.gather(cut, return_exceptions=True)
        assert a.in_flight == 0 and a.measured and a.cost >= 2.0  # as slow as a failure
        fleet["a:1"].release()


async def test_a_start_up_burst_is_not_all_sent_to_the_one_instance_that_fails_fast() -> None:
    # At start every instance is unmeasured. The one shedding load fails at once and is
    # measured (at the failure penalty); the healthy ones still have their first call in
    # flight. Their cost is the time that call has taken so far, not "busier than any
    # measured instance", or the whole burst would go to the failing one.
    async with Fleet("a:1", "b:2", "shed:3") as fleet:
        fleet["a:1"].hung = fleet["b:2"].hung = True
        fleet["shed:3"].failing = True
        balancer = PeakEwma(fleet.endpointer, rng=random.Random(7))
        call = retry(1, 5.0, balancer)
        burst = []
        for i in range(30):
            burst.append(asyncio.ensure_future(call(i)))
            await asyncio.sleep(0)  # each call starts (the failing one fails) before the next
        await fleet.until(lambda: fleet["a:1"].in_flight + fleet["b:2"].in_flight > 0)
        fleet["a:1"].release()
        fleet["b:2"].release()
        outcomes = await asyncio.gather(*burst, return_exceptions=True)
    failed = sum(isinstance(o, BaseException) for o in outcomes)
    assert fleet["shed:3"].calls <= 5 and failed <= 5, (fleet["shed:3"].calls, failed)


async def test_one_instance_goes_unmeasured_and_a_second_starts_the_measuring() -> None:
    async with Fleet("a") as fleet:
        balancer = PeakEwma(fleet.endpointer, rng=random.Random(3))
        (only,) = await fleet.endpointer.endpoints()
        for _ in range(5):
            chosen = await balancer.endpoint()
            assert chosen is only  # the instance's own endpoint, not a measuring wrapper
            assert await chosen(None) == "a"
        assert balancer.costs() == {}
        await fleet.add("b")
        for _ in range(20):
            assert await (await balancer.endpoint())(None) in ("a", "b")
        assert len(balancer.costs()) == 2  # both measured once there is a choice
        assert fleet["a"].calls + fleet["b"].calls == 25
