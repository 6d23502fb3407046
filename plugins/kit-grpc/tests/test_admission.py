"""Admission before a real grpc.aio server: shed before decode, retry elsewhere, deadlines."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc  # type: ignore[import-untyped]
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]
from kit_grpc.admission import Admission
from kit_grpc.errors import DETAILS_KEY
from kit_grpc.testing import running

from kitcore import DeadlineExceeded, ResourceExhausted, closing, connect
from kitcore.concurrency import FixedLimit, GradientLimit, Limiter, MinLatency
from kitcore.lb import RoundRobin

WORK = "/kit.Gated/Work"


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
    interceptor = Admission(**admission)
    async with running(service, interceptors=[interceptor]) as address:
        yield address, interceptor


async def wait_until(predicate: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def _work(channel: grpc.aio.Channel) -> Any:
    return channel.unary_unary(WORK)  # raw bytes in and out: no codec of kit's


def _request(s: str) -> bytes:
    return b"\x0a" + bytes([len(s)]) + s.encode()  # field 1, length-delimited


async def test_over_the_limit_is_shed_at_once_with_retry_hints_before_decoding() -> None:
    service = Gated()
    limiter = Limiter(FixedLimit(2), retry_after=0.3)
    async with (
        served(service, limiter=limiter) as (address, admission),
        grpc.aio.insecure_channel(address) as channel,
    ):
        work = _work(channel)
        held = [asyncio.ensure_future(work(_request(str(i)))) for i in (1, 2)]
        await wait_until(lambda: service.ran == 2)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await work(_request("3"))
        error = caught.value
        assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        trailing = dict(error.trailing_metadata() or ())
        assert trailing["retry-after"] == "1"
        assert trailing["grpc-retry-pushback-ms"] == "300"
        assert DETAILS_KEY in trailing
        # Refused before decoding: a malformed message gets the same answer.
        with pytest.raises(grpc.aio.AioRpcError) as malformed:
            await work(b"\xff\xff\xff")
        assert malformed.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert service.ran == 2 and admission.shed == 2
        # Health checks are never shed: a load balancer still sees the instance.
        health = health_pb2_grpc.HealthStub(channel)
        answer = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        service.gate.set()
        await asyncio.gather(*held)
        assert limiter.inflight == 0
        assert await work(_request("after")) == _request("after")


async def test_a_kit_client_raises_resource_exhausted_and_retries_elsewhere() -> None:
    full, free = Gated(), Gated()
    free.gate.set()
    async with (
        served(full, limiter=Limiter(FixedLimit(1))) as (full_address, shedding),
        served(free, limiter=Limiter(FixedLimit(10))) as (free_address, _),
    ):
        blocker = connect(Gated, f"grpc://{full_address}")
        held = asyncio.ensure_future(blocker.work("held"))
        await wait_until(lambda: full.ran == 1)
        async with closing(connect(Gated, f"grpc://{full_address}", max_attempts=1)) as alone:
            with pytest.raises(ResourceExhausted) as caught:
                await alone.work("x")
        assert caught.value.retry_after == 1.0
        target = f"static://{full_address},{free_address}"
        # Round robin sends every other first attempt to the shedding instance, at once.
        async with closing(
            connect(Gated, target, transport="grpc", max_attempts=2, balancer=RoundRobin)
        ) as fleet:
            results = await asyncio.gather(*(fleet.work(str(i)) for i in range(20)))
        assert results == [str(i) for i in range(20)]
        assert full.ran == 1 and free.ran == 20 and shedding.shed >= 5
        # connect's defaults (P2C-EWMA, outlier ejection, the retry budget) as well.
        async with closing(connect(Gated, target, transport="grpc")) as default:
            for i in range(10):
                assert await default.work(str(i)) == str(i)
        assert full.ran == 1 and free.ran == 30
        full.gate.set()
        assert await held == "held"
        await blocker.close()  # type: ignore[attr-defined]


async def test_a_client_that_goes_away_frees_its_slot() -> None:
    service = Gated()
    limiter = Limiter(FixedLimit(3))
    async with served(service, limiter=limiter) as (address, _):
        client = connect(Gated, f"grpc://{address}", max_attempts=1)
        calls = [asyncio.ensure_future(client.work(str(i))) for i in range(3)]
        await wait_until(lambda: service.ran == 3)
        assert limiter.inflight == 3
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        await wait_until(lambda: limiter.inflight == 0)  # the server saw the cancellations
        await client.close()  # type: ignore[attr-defined]
        service.gate.set()
        async with closing(connect(Gated, f"grpc://{address}")) as again:
            assert await again.work("back") == "back"


async def test_a_deadline_below_the_methods_minimum_latency_is_refused_unrun() -> None:
    service = Gated()
    service.gate.set()
    service.delay = 0.05
    floor = MinLatency()
    async with (
        served(service, min_latency=floor) as (address, admission),
        grpc.aio.insecure_channel(address) as channel,
    ):
        work = _work(channel)
        assert await work(_request("a")) == _request("a")
        learnt = floor.get(WORK)
        assert learnt is not None and learnt >= 0.05
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await work(_request("b"), timeout=0.03)  # under the 50 ms floor, not yet passed
        assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
        assert "minimum latency" in (caught.value.details() or "")
        assert service.ran == 1 and admission.refused == 1
        async with closing(connect(Gated, f"grpc://{address}", timeout=0.03)) as client:
            with pytest.raises(DeadlineExceeded):
                await client.work("c")
        assert service.ran == 1
        assert await work(_request("d"), timeout=5) == _request("d")
        assert service.ran == 2


async def test_an_adaptive_limit_sheds_a_burst_and_serves_the_rest() -> None:
    service = Gated()
    service.gate.set()
    service.delay = 0.02
    limit = GradientLimit(min_rtt_requests=5, update_interval=0.05)
    limiter = Limiter(limit)
    async with (
        served(service, limiter=limiter) as (address, _),
        grpc.aio.insecure_channel(address) as channel,
    ):
        work = _work(channel)

        async def call(i: int) -> grpc.StatusCode:
            try:
                await work(_request(str(i)))
            except grpc.aio.AioRpcError as exc:
                return exc.code()
            return grpc.StatusCode.OK

        codes = await asyncio.gather(*(call(i) for i in range(40)))
        assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
        assert codes.count(grpc.StatusCode.OK) >= 3  # min_concurrency while minRTT is measured
        assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) > 0  # 40 at once are over it
        for i in range(5):
            assert await call(i) is grpc.StatusCode.OK
    assert service.ran == codes.count(grpc.StatusCode.OK) + 5 and limiter.inflight == 0
    assert limit.min_rtt >= 0.02  # measured on the server, around the whole handler


async def test_failures_are_not_samples_and_caller_faults_are() -> None:
    class Failing:
        async def bad(self, n: int) -> int:
            """InvalidArgument: the caller's fault, served at once."""
            from kitcore import InvalidArgument

            raise InvalidArgument("no")

        async def broken(self, n: int) -> int:
            """An unexpected error."""
            raise RuntimeError("boom")

    samples: list[tuple[float, int, bool]] = []

    class Recording(FixedLimit):
        def sample(self, rtt: float, inflight: int, dropped: bool) -> None:
            samples.append((rtt, inflight, dropped))

    limiter = Limiter(Recording(5))
    async with (
        running(Failing(), interceptors=[Admission(limiter)]) as address,
        closing(connect(Failing, f"grpc://{address}", max_attempts=1)) as client,
    ):
        with pytest.raises(Exception, match="no"):
            await client.bad(1)
        with pytest.raises(Exception, match="internal"):
            await client.broken(1)
    assert len(samples) == 1 and samples[0][2] is False  # the InvalidArgument only
    assert limiter.inflight == 0


def test_admission_needs_something_to_enforce() -> None:
    with pytest.raises(ValueError, match="needs a limiter"):
        Admission()
