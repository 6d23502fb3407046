from __future__ import annotations

import asyncio
import gc
import random
import weakref
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from kitcore.endpoint import Endpoint
from kitcore.errors import Unavailable
from kitcore.lb import Balancer, PowerOfTwoChoices, Random, RoundRobin
from kitcore.sd import FixedEndpointer


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    yield
    current = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not current and not t.done()] == []


def named(name: str) -> Endpoint:
    async def endpoint(request: Any) -> Any:
        return name

    return endpoint


class Source:
    """A mutable endpoint source."""

    def __init__(self, endpoints: Sequence[Endpoint]) -> None:
        self.current = list(endpoints)

    async def endpoints(self) -> list[Endpoint]:
        return list(self.current)


async def test_round_robin_returns_each_endpoint_in_turn() -> None:
    balancer = RoundRobin(FixedEndpointer([named("a"), named("b"), named("c")]))
    picks = [await (await balancer.endpoint())(None) for _ in range(7)]
    assert picks == ["a", "b", "c", "a", "b", "c", "a"]


async def test_round_robin_follows_a_changing_source() -> None:
    source = Source([named("a"), named("b")])
    balancer = RoundRobin(source)
    assert await (await balancer.endpoint())(None) == "a"
    source.current = [named("x")]
    assert await (await balancer.endpoint())(None) == "x"


async def test_random_covers_every_endpoint_and_only_those() -> None:
    endpoints = [named("a"), named("b"), named("c")]
    balancer = Random(FixedEndpointer(endpoints), rng=random.Random(3))
    picks = [await balancer.endpoint() for _ in range(300)]
    assert set(map(id, picks)) == set(map(id, endpoints))
    counts = [sum(p is e for p in picks) for e in endpoints]
    assert min(counts) > 50  # roughly uniform: 100 each expected


@pytest.mark.parametrize("make", [RoundRobin, Random, PowerOfTwoChoices])
async def test_no_endpoints_is_unavailable(make: Any) -> None:
    balancer = make(FixedEndpointer([]))
    assert isinstance(balancer, Balancer)
    with pytest.raises(Unavailable, match="no endpoints available"):
        await balancer.endpoint()


async def test_power_of_two_choices_prefers_the_idle_endpoint() -> None:
    release = asyncio.Event()

    async def slow(request: Any) -> Any:
        await release.wait()
        return "slow"

    balancer = PowerOfTwoChoices(FixedEndpointer([slow, named("idle")]), rng=random.Random(1))
    first = await balancer.endpoint()
    # Make whichever came first busy, then every pick must go to the other one.
    busy_calls = [asyncio.ensure_future(first(None)) for _ in range(3)]
    await asyncio.sleep(0)
    others = {await balancer.endpoint() for _ in range(20)}
    assert len(others) == 1 and first not in others
    release.set()
    await asyncio.gather(*busy_calls)
    # Idle again: both endpoints get picked.
    assert len({await balancer.endpoint() for _ in range(50)}) == 2


async def test_power_of_two_choices_counts_failed_calls_as_finished() -> None:
    release = asyncio.Event()

    def make() -> Endpoint:
        async def endpoint(request: Any) -> Any:
            if request == "fail":
                raise ConnectionError("down")
            await release.wait()

        return endpoint

    balancer = PowerOfTwoChoices(FixedEndpointer([make(), make()]))
    failed = await balancer.endpoint()
    for _ in range(5):
        with pytest.raises(ConnectionError):
            await failed("fail")
    busy = failed
    while busy is failed:
        busy = await balancer.endpoint()
    call = asyncio.ensure_future(busy("block"))
    await asyncio.sleep(0)
    # Five failed calls left nothing in flight: the one with a call in flight loses.
    assert {await balancer.endpoint() for _ in range(20)} == {failed}
    release.set()
    await call


async def test_power_of_two_choices_wraps_each_endpoint_once() -> None:
    one = named("one")
    balancer = PowerOfTwoChoices(FixedEndpointer([one]))
    first, second = await balancer.endpoint(), await balancer.endpoint()
    assert first is second and first is not one
    assert await first(None) == "one"


async def test_power_of_two_choices_drops_wrappers_of_departed_endpoints() -> None:
    source = Source([named("a"), named("b")])
    departed = weakref.ref(source.current[0])
    balancer = PowerOfTwoChoices(source, rng=random.Random(5))
    for _ in range(10):
        await balancer.endpoint()
    source.current = [source.current[1], named("c")]
    for _ in range(10):
        await balancer.endpoint()
    gc.collect()
    assert departed() is None
