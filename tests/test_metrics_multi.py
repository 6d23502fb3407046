"""MultiProvider: every metric fans out to each provider."""

from __future__ import annotations

import pytest

from kitcore.metrics import DiscardProvider, MemoryProvider, MultiProvider
from kitcore.metrics.multi import MultiCounter
from kitcore.testing.metrics import MemoryReader, check_provider


def test_every_kind_fans_out_to_every_provider() -> None:
    first, second = MemoryProvider(), MemoryProvider()
    multi = MultiProvider(first, DiscardProvider(), second)
    multi.counter("req_total", "", ("code",)).with_labels(code=200).add(2)
    multi.counter("plain_total").add()
    gauge = multi.gauge("temp", "", ("room",)).with_labels(room="hall")
    gauge.set(5)
    gauge.add(-1)
    histogram = multi.histogram("lat_seconds", "", ("route",), buckets=(1.0, 2.0))
    for value in (1.0, 2.0, 3.0):
        histogram.with_labels(route="/").observe(value)
    for provider in (first, second):
        assert provider.counter_value("req_total", code="200") == 2.0
        assert provider.counter_value("plain_total") == 1.0
        assert provider.gauge_value("temp", room="hall") == 4.0
        assert provider.observations("lat_seconds", route="/") == [1.0, 2.0, 3.0]


async def test_multi_provider_passes_the_suite_read_through_each_backend() -> None:
    first, second = MemoryProvider(), MemoryProvider()
    multi = MultiProvider(first, second)
    await check_provider(multi, MemoryReader(first))
    await check_provider(multi, MemoryReader(second))


def test_children_of_a_multi_metric_are_bound_in_each_provider() -> None:
    memory = MemoryProvider()
    child = MultiProvider(memory).counter("c_total", "", ("a", "b")).with_labels(b=2, a=1)
    assert isinstance(child, MultiCounter)
    assert [metric.label_values for metric in child.metrics] == [("1", "2")]


def test_a_clash_in_any_provider_is_reported() -> None:
    memory = MemoryProvider()
    memory.gauge("taken")
    with pytest.raises(ValueError, match="'taken' already exists as a gauge"):
        MultiProvider(DiscardProvider(), memory).counter("taken")


class Closing:
    """A provider recording close() calls, failing if told to."""

    def __init__(self, log: list[str], name: str, fail: bool = False) -> None:
        self.inner = DiscardProvider()
        self.counter = self.inner.counter
        self.gauge = self.inner.gauge
        self.histogram = self.inner.histogram
        self.log, self.name, self.fail = log, name, fail

    def close(self) -> None:
        self.log.append(self.name)
        if self.fail:
            raise RuntimeError(f"{self.name} failed")


def test_close_closes_every_provider_and_reraises_the_first_error() -> None:
    log: list[str] = []
    multi = MultiProvider(
        Closing(log, "a"), Closing(log, "b", fail=True), Closing(log, "c", fail=True)
    )
    with pytest.raises(RuntimeError, match="b failed"):
        multi.close()
    assert log == ["a", "b", "c"]
