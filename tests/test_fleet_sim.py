"""The fleet simulator's machinery (bench/_sim.py): virtual time, shared capacity, determinism."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import _sim
import fleet

from kitcore import DeadlineExceeded, context
from kitcore.lb import Retry, RoundRobin
from kitcore.sd import FixedEndpointer

# bench/ leaves the path again (this module and bench/fleet.py both put it there): its
# script names (fleet, core, tracing...) must not shadow modules for later tests.
sys.path[:] = [p for p in sys.path if p != str(Path(__file__).resolve().parent.parent / "bench")]


def test_the_clock_jumps_to_each_timer_in_order_without_sleeping() -> None:
    order: list[tuple[str, float]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def at(name: str, delay: float) -> None:
            await asyncio.sleep(delay)
            order.append((name, loop.time()))

        loop.call_later(2.5, lambda: order.append(("callback", loop.time())))
        await asyncio.gather(at("c", 3600.0), at("a", 0.001), at("b", 1.0), at("a2", 0.001))

    wall = time.monotonic()
    _sim.run(main)
    assert time.monotonic() - wall < 5  # an hour of virtual time, nowhere near an hour
    assert order == [("a", 0.001), ("a2", 0.001), ("b", 1.0), ("callback", 2.5), ("c", 3600.0)]


def test_a_loop_with_nothing_to_wait_for_reports_the_deadlock() -> None:
    async def main() -> None:
        await asyncio.get_running_loop().create_future()

    with pytest.raises(RuntimeError, match="deadlock"):
        _sim.run(main)


def test_kit_deadlines_run_on_the_virtual_clock() -> None:
    async def main() -> tuple[float, float | None, float]:
        loop = asyncio.get_running_loop()
        with context.timeout(5.0):
            await asyncio.sleep(2.0)
            left = context.remaining()
            start = loop.time()
            with pytest.raises(DeadlineExceeded):
                await context.enforce(asyncio.sleep(10.0))
            return loop.time() - start, left, loop.time()

    waited, left, now = _sim.run(main)
    assert left == pytest.approx(3.0) and waited == pytest.approx(3.0) and now == pytest.approx(5)
    assert context.remaining() is None  # the real clock is back after the run


def test_retry_spends_one_virtual_deadline_across_attempts() -> None:
    async def main() -> tuple[int, float]:
        calls = 0

        async def hangs(request: Any) -> Any:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.4)
            raise DeadlineExceeded("slow")

        endpoint = Retry(5, 1.0, RoundRobin(FixedEndpointer([hangs])))
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(Exception):  # noqa: B017 - RetryError, whatever its final error
            await endpoint(None)
        return calls, loop.time() - start

    calls, took = _sim.run(main)
    assert calls == 3 and took == pytest.approx(1.0)  # 0.4 + 0.4 + the deadline mid-third


def test_shared_cpu_serves_workers_at_full_speed_and_shares_beyond() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        cpu = _sim.SharedCpu(loop, workers=2)
        ends: list[float] = []

        async def job(work: float) -> None:
            await cpu.run(work)
            ends.append(loop.time())

        await asyncio.gather(job(1.0), job(1.0))  # two jobs, two workers: 1 s each
        await asyncio.gather(*(job(1.0) for _ in range(4)))  # four: half speed, 2 s
        return ends

    ends = _sim.run(main)
    assert ends[:2] == pytest.approx([1.0, 1.0])
    assert ends[2:] == pytest.approx([3.0] * 4)


def test_shared_cpu_gives_a_cancelled_jobs_share_back() -> None:
    async def main() -> tuple[float, int]:
        loop = asyncio.get_running_loop()
        cpu = _sim.SharedCpu(loop, workers=1)
        doomed = asyncio.create_task(cpu.run(10.0))
        survivor = asyncio.create_task(cpu.run(1.0))
        await asyncio.sleep(1.0)  # each got half a worker: the survivor has 0.5 s left
        doomed.cancel()
        await survivor
        return loop.time(), cpu.live

    finished, live = _sim.run(main)
    assert finished == pytest.approx(1.5) and live == 0


def test_a_caller_that_goes_away_does_not_stop_the_server_but_the_deadline_does() -> None:
    async def main() -> list[int]:
        rng = fleet.Sim(asyncio.get_running_loop(), "s").rng("x")
        instance = _sim.Instance("i", _sim.healthy(rng, median=1.0))
        endpoint = instance.endpoint()
        caller = asyncio.ensure_future(endpoint(1))
        await asyncio.sleep(0.1)
        caller.cancel()  # no deadline: the server works on, as a real one would
        await asyncio.sleep(10)
        served_abandoned = instance.served
        with context.timeout(0.1), pytest.raises(DeadlineExceeded):
            await context.enforce(endpoint(2))
        await asyncio.sleep(10)  # the server's copy of the deadline stopped it (Kit-Timeout)
        return [instance.attempts, served_abandoned, instance.served]

    assert _sim.run(main) == [2, 1, 1]


@pytest.mark.parametrize("scenario", ["hiccups", "overload"])
def test_the_same_seed_gives_the_same_run_and_another_seed_another(scenario: str) -> None:
    chosen = next(s for s in fleet.SCENARIOS if s.name == scenario)
    short = fleet.Scenario(
        chosen.name, chosen.doc, chosen.behaviours, chosen.rate, duration=2.0, watch=chosen.watch
    )
    policy = next(p for p in fleet.POLICIES if p.name == "all")
    first, again = fleet.simulate(short, policy, seed=3), fleet.simulate(short, policy, seed=3)
    other = fleet.simulate(short, policy, seed=4)
    assert first.requests > 100
    assert (first.latencies, first.attempts, first.errors_by_kind) == (
        again.latencies,
        again.attempts,
        again.errors_by_kind,
    )
    assert other.latencies != first.latencies
