"""EndpointMetrics: request count, latency and in-flight recorded by middleware."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from kitcore.endpoint import chain
from kitcore.errors import NotFound
from kitcore.metrics import Counter, DiscardProvider, EndpointMetrics, MemoryProvider


def test_creates_the_three_metrics_once_under_the_namespace() -> None:
    provider = MemoryProvider()
    metrics = EndpointMetrics(provider, namespace="svc")
    assert (metrics.requests.name, metrics.requests.label_names) == (
        "svc_requests_total",
        ("endpoint", "error"),
    )
    assert metrics.duration.name == "svc_request_duration_seconds"
    assert metrics.duration.label_names == ("endpoint", "error")
    assert (metrics.in_flight.name, metrics.in_flight.label_names) == (
        "svc_requests_in_flight",
        ("endpoint",),
    )
    again = EndpointMetrics(provider, namespace="svc")  # same provider: same series
    assert again.requests is metrics.requests


async def test_success_is_counted_with_latency_and_in_flight_back_to_zero() -> None:
    provider = MemoryProvider()
    instrument = EndpointMetrics(provider).middleware("uppercase")

    async def uppercase(request: str) -> str:
        return request.upper()

    endpoint = instrument(uppercase)
    assert await endpoint("a") == "A"
    assert await endpoint("b") == "B"
    assert provider.counter_value("kit_requests_total", endpoint="uppercase", error="none") == 2
    latencies = provider.observations(
        "kit_request_duration_seconds", endpoint="uppercase", error="none"
    )
    assert len(latencies) == 2
    assert all(latency >= 0 for latency in latencies)
    assert provider.gauge_value("kit_requests_in_flight", endpoint="uppercase") == 0


async def test_errors_are_counted_by_kind_and_reraised_unchanged() -> None:
    provider = MemoryProvider()
    instrument = EndpointMetrics(provider).middleware("get")
    not_found = NotFound("no such user")
    boom = ZeroDivisionError("boom")

    async def get(request: str) -> str:
        if request == "missing":
            raise not_found
        if request == "bug":
            raise boom
        return request

    endpoint = instrument(get)
    with pytest.raises(NotFound) as caught:
        await endpoint("missing")
    assert caught.value is not_found
    with pytest.raises(ZeroDivisionError) as caught_bug:
        await endpoint("bug")
    assert caught_bug.value is boom
    await endpoint("ok")

    def count(error: str) -> float:
        return provider.counter_value("kit_requests_total", endpoint="get", error=error)

    assert (count("none"), count("not_found"), count("internal")) == (1, 1, 1)
    for error in ("none", "not_found", "internal"):
        assert (
            provider.histogram_count("kit_request_duration_seconds", endpoint="get", error=error)
            == 1
        )
    assert provider.gauge_value("kit_requests_in_flight", endpoint="get") == 0


async def test_in_flight_goes_up_during_calls() -> None:
    provider = MemoryProvider()
    instrument = EndpointMetrics(provider).middleware("slow")
    entered = asyncio.Event()
    release = asyncio.Event()
    inside = 0

    async def slow(request: Any) -> Any:
        nonlocal inside
        inside += 1
        if inside == 2:
            entered.set()
        await release.wait()
        return request

    endpoint = instrument(slow)
    calls = [asyncio.ensure_future(endpoint(i)) for i in range(2)]
    await entered.wait()
    assert provider.gauge_value("kit_requests_in_flight", endpoint="slow") == 2
    release.set()
    assert await asyncio.gather(*calls) == [0, 1]
    assert provider.gauge_value("kit_requests_in_flight", endpoint="slow") == 0


async def test_cancelled_call_brings_in_flight_down_and_is_not_counted() -> None:
    provider = MemoryProvider()
    instrument = EndpointMetrics(provider).middleware("hang")
    started = asyncio.Event()

    async def hang(request: Any) -> Any:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.ensure_future(instrument(hang)(None))
    await started.wait()
    assert provider.gauge_value("kit_requests_in_flight", endpoint="hang") == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert provider.gauge_value("kit_requests_in_flight", endpoint="hang") == 0
    assert provider.snapshot()["kit_requests_total"]["series"] == [
        {"labels": {"endpoint": "hang", "error": "none"}, "value": 0.0}
    ]


async def test_endpoints_are_kept_apart_and_compose_with_chain() -> None:
    provider = MemoryProvider()
    metrics = EndpointMetrics(provider)

    async def echo(request: Any) -> Any:
        return request

    first = chain(metrics.middleware("first"))(echo)
    second = metrics.middleware("second")(echo)
    await first(1)
    await second(2)
    await second(3)
    assert provider.counter_value("kit_requests_total", endpoint="first", error="none") == 1
    assert provider.counter_value("kit_requests_total", endpoint="second", error="none") == 2


async def test_works_with_the_discard_provider() -> None:
    async def echo(request: Any) -> Any:
        return request

    assert await EndpointMetrics(DiscardProvider()).middleware("e")(echo)("x") == "x"


class AuditedProvider(MemoryProvider):
    """A backend whose counters override add(), as a backend may to do more per record."""

    def __init__(self) -> None:
        super().__init__()
        self.adds: list[tuple[tuple[str, ...], float]] = []

    def counter(self, name: str, help: str = "", label_names: Sequence[str] = ()) -> Counter:
        counter = super().counter(name, help, label_names)
        adds = self.adds

        class Audited(type(counter)):  # type: ignore[misc]
            __slots__ = ()

            def _bind(self, label_values: tuple[str, ...]) -> Counter:
                child: Counter = super()._bind(label_values)
                child.__class__ = Audited
                return child

            def add(self, delta: float = 1.0) -> None:
                adds.append((self.label_values, delta))
                super().add(delta)

        counter.__class__ = Audited
        return counter


async def test_a_backend_overriding_add_is_called_through_add() -> None:
    provider = AuditedProvider()
    instrument = EndpointMetrics(provider).middleware("echo")

    async def echo(request: Any) -> Any:
        return request

    endpoint = instrument(echo)
    await endpoint(1)
    await endpoint(2)
    assert provider.adds == [(("echo", "none"), 1.0), (("echo", "none"), 1.0)]
    assert provider.counter_value("kit_requests_total", endpoint="echo", error="none") == 2
