"""Recording: kit's cheap updates record and expose exactly what prometheus-client's calls do."""

from __future__ import annotations

import asyncio
import math
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
from kit_prometheus import PrometheusProvider, multiprocess_registry
from kit_prometheus.metrics import PrometheusHistogram, PrometheusSummary
from prometheus_client import CollectorRegistry

from kitcore.metrics import EndpointMetrics

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]

BOUNDS = (0.5, 1.0, 2.5)
# Below, on and just above every bound, negatives, ints, zero, huge: where each lands is
# the first bucket whose bound is >= the value, +Inf for the rest.
VALUES = [-3.0, -0.0, 0, 0.5, 0.5000001, 1, 1.0, 2.5, 2.5000001, 7, 1e300, -1e-300]


def series(registry: CollectorRegistry) -> Series:
    """Every sample a scrape of ``registry`` shows, but the ``_created`` timestamps."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_histogram_buckets_sum_and_count_are_exact() -> None:
    kit = PrometheusProvider()
    histogram = kit.histogram("sizes", "Sizes.", ("kind",), buckets=BOUNDS)
    raw = CollectorRegistry()
    raw_histogram = prometheus_client.Histogram(
        "sizes", "Sizes.", ("kind",), registry=raw, buckets=BOUNDS
    )
    for value in VALUES:
        histogram.with_labels(kind="mixed").observe(value)
        raw_histogram.labels("mixed").observe(value)
    for kind, value in (("inf", math.inf), ("minus_inf", -math.inf)):
        histogram.with_labels(kind=kind).observe(value)
        raw_histogram.labels(kind).observe(value)

    got = series(kit.registry)
    assert got == series(raw)  # sample for sample, the client's own bookkeeping

    def bucket(kind: str, le: str) -> float:
        return got[("sizes_bucket", (("kind", kind), ("le", le)))]

    # And by hand: -3, -0, 0, 0.5, -1e-300 | 0.5000001, 1, 1.0 | 2.5 | the other three.
    assert [bucket("mixed", le) for le in ("0.5", "1.0", "2.5", "+Inf")] == [5, 8, 9, 12]
    assert got[("sizes_count", (("kind", "mixed"),))] == 12
    assert got[("sizes_sum", (("kind", "mixed"),))] == sum(VALUES)
    assert [bucket("inf", le) for le in ("0.5", "1.0", "2.5", "+Inf")] == [0, 0, 0, 1]
    assert [bucket("minus_inf", le) for le in ("0.5", "1.0", "2.5", "+Inf")] == [1, 1, 1, 1]
    assert got[("sizes_sum", (("kind", "inf"),))] == math.inf


def test_histogram_with_a_single_bound_and_an_unlabelled_one() -> None:
    kit = PrometheusProvider()
    raw = CollectorRegistry()
    one = kit.histogram("one", buckets=(1.0,))
    raw_one = prometheus_client.Histogram("one", "", registry=raw, buckets=(1.0,))
    default = kit.histogram("default")  # the provider's default bounds, no labels
    raw_default = prometheus_client.Histogram("default", "", registry=raw)
    for value in [*VALUES, 0.005, 0.0075, 0.075, 7.5, 10, 10.0001]:
        one.observe(value)
        raw_one.observe(value)
        default.observe(value)
        raw_default.observe(value)
    assert series(kit.registry) == series(raw)


def test_counter_gauge_and_summary_record_what_the_client_records() -> None:
    kit = PrometheusProvider()
    raw = CollectorRegistry()
    counter = kit.counter("jobs", "Jobs.", ("kind",)).with_labels(kind="a")
    raw_counter = prometheus_client.Counter("jobs", "Jobs.", ("kind",), registry=raw).labels("a")
    gauge = kit.gauge("depth", "Depth.", ("queue",)).with_labels(queue="q")
    raw_gauge = prometheus_client.Gauge("depth", "Depth.", ("queue",), registry=raw).labels("q")
    summary = kit.summary("latency", "Latency.")
    raw_summary = prometheus_client.Summary("latency", "Latency.", registry=raw)
    for delta in (1, 2.5, 0, 0.1, 1e-9):
        counter.add(delta)
        raw_counter.inc(delta)
    gauge.set(4)
    raw_gauge.set(4)
    for delta in (-1.5, 1, 0.25, -10, 1e-9):
        gauge.add(delta)
        raw_gauge.inc(delta)
    for value in (3, -1, 0.5, math.inf):
        summary.observe(value)
        raw_summary.observe(value)
    assert series(kit.registry) == series(raw)
    assert series(raw)[("depth", (("queue", "q"),))] == pytest.approx(-6.25)


def test_kit_errors_are_unchanged() -> None:
    provider = PrometheusProvider()
    counter = provider.counter("c_total", "", ("kind",))
    with pytest.raises(ValueError, match="delta must be >= 0"):
        counter.with_labels(kind="a").add(-1)
    with pytest.raises(ValueError, match="delta must be >= 0"):
        counter.with_labels(kind="a").add(math.nan)
    histogram = provider.histogram("h", "", ("kind",))
    with pytest.raises(ValueError, match="cannot observe NaN"):
        histogram.with_labels(kind="a").observe(math.nan)
    for unbound in (counter.add, histogram.observe, provider.gauge("g", "", ("kind",)).add):
        with pytest.raises(ValueError, match="call with_labels"):
            unbound(1)
    assert provider.registry.get_sample_value("c_total", {"kind": "a"}) == 0
    assert provider.registry.get_sample_value("h_count", {"kind": "a"}) == 0


def test_a_mostrecent_gauge_still_refuses_add() -> None:
    gauge = PrometheusProvider(gauge_mode="mostrecent").gauge("g")
    gauge.set(2)
    with pytest.raises(RuntimeError, match="mostrecent"):
        gauge.add(1)


@pytest.fixture
def contended() -> Iterator[None]:
    """Switch threads as often as the interpreter allows, to interleave the updates."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def test_updates_from_many_threads_are_all_kept(contended: None) -> None:
    provider = PrometheusProvider()
    counter = provider.counter("hits").with_labels()
    gauge = provider.gauge("busy", "", ("pool",)).with_labels(pool="p")
    histogram = provider.histogram("took", buckets=BOUNDS)
    threads, rounds = 8, 5_000

    def work() -> None:
        for index in range(rounds):
            gauge.add(1.0)
            counter.add()
            histogram.observe(index % 4)  # 0 | 1 | 2 | 3: one of each per four
            gauge.add(-1.0)
            gauge.add(0.5)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    value = provider.registry.get_sample_value
    total = threads * rounds
    assert value("hits_total") == total
    assert value("busy", {"pool": "p"}) == total * 0.5
    assert value("took_count") == total
    assert value("took_sum") == total // 4 * (0 + 1 + 2 + 3)
    assert value("took_bucket", {"le": "0.5"}) == total // 4
    assert value("took_bucket", {"le": "1.0"}) == total // 2
    assert value("took_bucket", {"le": "2.5"}) == total * 3 // 4


@pytest.fixture
def mmaped_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Make prometheus-client create multiprocess values (files in ``tmp_path``) here."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    value_class: Any = prometheus_client.values.MultiProcessValue()  # type: ignore[no-untyped-call]
    monkeypatch.setattr(prometheus_client.values, "ValueClass", value_class)
    try:
        yield tmp_path
    finally:
        value_class.close_all_files()


def test_multiprocess_values_are_written_through_their_own_inc(mmaped_values: Path) -> None:
    # The file-backed values are not added to in place: their inc() writes the file,
    # which is what other processes (and the exposition) read.
    registry = CollectorRegistry()

    def make(kind: type[Any], name: str, **options: Any) -> Any:
        return kind(name, "", ("kind",), registry=registry, **options).labels("a")

    histogram = PrometheusHistogram(
        "sizes", "", (), make(prometheus_client.Histogram, "sizes", buckets=BOUNDS)
    )
    summary = PrometheusSummary("latency", "", (), make(prometheus_client.Summary, "latency"))
    for value in VALUES:
        histogram.observe(value)
        summary.observe(value)
    merged = series(multiprocess_registry(str(mmaped_values)))

    def bucket(le: str) -> float:
        return merged[("sizes_bucket", (("kind", "a"), ("le", le)))]

    assert [bucket(le) for le in ("0.5", "1.0", "2.5", "+Inf")] == [5, 8, 9, 12]
    assert merged[("sizes_sum", (("kind", "a"),))] == sum(VALUES)
    assert merged[("latency_count", (("kind", "a"),))] == 12
    assert merged[("latency_sum", (("kind", "a"),))] == sum(VALUES)


async def test_endpoint_metrics_in_flight_under_concurrency_and_cancellation() -> None:
    provider = PrometheusProvider()
    instrument = EndpointMetrics(provider).middleware("slow")
    entered, release = asyncio.Event(), asyncio.Event()
    inside = 0

    async def slow(request: Any) -> Any:
        nonlocal inside
        inside += 1
        if inside == 3:
            entered.set()
        await release.wait()
        return request

    endpoint = instrument(slow)
    calls = [asyncio.ensure_future(endpoint(index)) for index in range(3)]
    await entered.wait()

    def in_flight() -> float | None:
        return provider.registry.get_sample_value("kit_requests_in_flight", {"endpoint": "slow"})

    assert in_flight() == 3
    calls[0].cancel()
    await asyncio.sleep(0)
    assert in_flight() == 2
    release.set()
    assert await asyncio.gather(*calls[1:]) == [1, 2]
    assert in_flight() == 0
    value = provider.registry.get_sample_value
    assert value("kit_requests_total", {"endpoint": "slow", "error": "none"}) == 2
    assert value("kit_request_duration_seconds_count", {"endpoint": "slow", "error": "none"}) == 2
