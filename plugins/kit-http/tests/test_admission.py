"""Admission before a real uvicorn server: shed before decode, retry elsewhere, deadlines."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from kit_http import App
from kit_http.admission import Admission
from kit_http.testing import running

from kitcore import DeadlineExceeded, ResourceExhausted, connect
from kitcore.concurrency import FixedLimit, GradientLimit, Limiter, MinLatency


class Gated:
    """A service whose calls wait for the test to open the gate; it counts what ran."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.ran = 0
        self.delay = 0.0

    async def work(self, s: str) -> str:
        """Wait for the gate (and ``delay``), then echo ``s``."""
        self.ran += 1
        await self.gate.wait()
        await asyncio.sleep(self.delay)
        return s


@contextlib.asynccontextmanager
async def served(service: Gated, **admission: Any) -> AsyncIterator[tuple[str, Admission]]:
    app = Admission(App(service), **admission)
    async with running(app) as url:
        yield url, app


async def wait_until(predicate: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_over_the_limit_is_shed_at_once_with_503_and_retry_after() -> None:
    service = Gated()
    limiter = Limiter(FixedLimit(2), retry_after=0.3)
    async with served(service, limiter=limiter) as (url, _), aiohttp.ClientSession() as http:
        held = [asyncio.create_task(http.post(f"{url}/work", json={"s": str(i)})) for i in (1, 2)]
        await wait_until(lambda: service.ran == 2)
        async with http.post(f"{url}/work", json={"s": "3"}) as reply:
            assert reply.status == 503
            assert reply.headers["Retry-After"] == "1"
            body = await reply.json()
        assert body["code"] == "resource_exhausted"
        assert body["details"] == {"limit": 2, "retry_after": 0.3}
        # Refused before the body was read or decoded: a malformed one gets the same 503.
        async with http.post(f"{url}/work", data=b"{not json") as reply:
            assert reply.status == 503
        assert service.ran == 2
        service.gate.set()
        for task in held:
            async with await task as reply:
                assert reply.status == 200
        assert limiter.inflight == 0
        # The connection that carried the refusals still serves.
        async with http.post(f"{url}/work", json={"s": "after"}) as reply:
            assert reply.status == 200 and await reply.json() == "after"


async def test_a_kit_client_raises_resource_exhausted_and_retries_elsewhere() -> None:
    full, free = Gated(), Gated()
    free.gate.set()
    shedding = Limiter(FixedLimit(1))
    async with (
        served(full, limiter=shedding) as (full_url, _),
        served(free, limiter=Limiter(FixedLimit(10))) as (free_url, _),
    ):
        blocker = connect(Gated, full_url)
        held = asyncio.create_task(blocker.work("held"))
        await wait_until(lambda: full.ran == 1)
        alone = connect(Gated, full_url, max_attempts=1)
        with pytest.raises(ResourceExhausted) as caught:
            await alone.work("x")
        assert caught.value.retry_after == 1.0
        hosts = ",".join(u.removeprefix("http://") for u in (full_url, free_url))
        fleet = connect(Gated, f"static://{hosts}", max_attempts=2)
        for i in range(4):
            assert await fleet.work(str(i)) == str(i)
        assert full.ran == 1 and free.ran == 4
        full.gate.set()
        assert await held == "held"
        for client in (blocker, alone, fleet):
            await client.close()


async def test_a_client_that_goes_away_frees_its_slot() -> None:
    service = Gated()
    limiter = Limiter(FixedLimit(3))
    async with served(service, limiter=limiter) as (url, _):
        client = connect(Gated, url, max_attempts=1)
        calls = [asyncio.create_task(client.work(str(i))) for i in range(3)]
        await wait_until(lambda: service.ran == 3)
        assert limiter.inflight == 3
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        await client.close()
        service.gate.set()
        await wait_until(lambda: limiter.inflight == 0)
        again = connect(Gated, url)
        assert await again.work("back") == "back"
        await again.close()


async def test_a_deadline_below_the_routes_minimum_latency_is_refused_unrun() -> None:
    service = Gated()
    service.gate.set()
    service.delay = 0.05
    floor = MinLatency()
    async with served(service, min_latency=floor) as (url, _), aiohttp.ClientSession() as http:
        async with http.post(f"{url}/work", json={"s": "a"}) as reply:
            assert reply.status == 200
        learnt = floor.get("/work")
        assert learnt is not None and learnt >= 0.05
        headers = {"Kit-Timeout": "10"}
        async with http.post(f"{url}/work", json={"s": "b"}, headers=headers) as reply:
            assert reply.status == 504
            body = await reply.json()
        assert body["code"] == "deadline_exceeded" and "minimum latency" in body["message"]
        assert service.ran == 1
        client = connect(Gated, url, timeout=0.02, max_attempts=1)
        with pytest.raises(DeadlineExceeded):
            await client.work("c")
        await client.close()
        assert service.ran == 1
        async with http.post(f"{url}/work", json={"s": "d"}, headers={"Kit-Timeout": "5000"}) as r:
            assert r.status == 200
        assert service.ran == 2


async def test_an_adaptive_limit_sheds_a_burst_and_serves_the_rest() -> None:
    service = Gated()
    service.gate.set()
    service.delay = 0.02
    limit = GradientLimit(min_rtt_requests=5, update_interval=0.05)
    limiter = Limiter(limit)
    async with served(service, limiter=limiter) as (url, _), aiohttp.ClientSession() as http:

        async def post(i: int) -> int:
            async with http.post(f"{url}/work", json={"s": str(i)}) as reply:
                await reply.read()
                return reply.status

        statuses = await asyncio.gather(*(post(i) for i in range(40)))
        assert set(statuses) <= {200, 503}
        assert statuses.count(200) >= 3  # min_concurrency, the limit while minRTT is measured
        assert statuses.count(503) > 0  # 40 at once are over it
        for i in range(5):
            assert await post(i) == 200
    assert service.ran == statuses.count(200) + 5 and limiter.inflight == 0
    assert limit.min_rtt >= 0.02  # measured on the server, over the whole reply


def test_admission_needs_something_to_enforce() -> None:
    with pytest.raises(ValueError, match="needs a limiter"):
        Admission(App(Gated()))
