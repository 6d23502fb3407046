"""MemoryProvider: values read back, reservoirs, snapshot, exposition, threads."""

from __future__ import annotations

import json
import math
import random
import threading

import pytest

from kitcore.metrics import LabelError, MemoryProvider
from kitcore.metrics.reservoir import Reservoir, quantile
from kitcore.testing.metrics import MemoryReader, check_provider


async def test_memory_provider_passes_the_conformance_suite() -> None:
    provider = MemoryProvider(seed=7)
    await check_provider(provider, MemoryReader(provider))
    await check_provider(provider, MemoryReader(provider))  # twice: names do not collide


def test_counter_series_are_kept_apart() -> None:
    provider = MemoryProvider()
    counter = provider.counter("hits_total", "", ("page",))
    counter.with_labels(page="home").add()
    counter.with_labels(page="home").add(2)
    counter.with_labels(page="about").add(0.5)
    assert provider.counter_value("hits_total", page="home") == 3.0
    assert provider.counter_value("hits_total", page="about") == 0.5
    assert provider.counter_value("hits_total", page="never") == 0.0


def test_same_name_twice_is_the_same_series() -> None:
    provider = MemoryProvider()
    provider.counter("n_total").add()
    provider.counter("n_total").add()
    assert provider.counter_value("n_total") == 2.0


def test_gauge_set_and_add() -> None:
    provider = MemoryProvider()
    gauge = provider.gauge("queue", "", ("name",)).with_labels(name="jobs")
    gauge.set(10)
    gauge.add(-3)
    gauge.add(0.5)
    assert provider.gauge_value("queue", name="jobs") == 7.5


def test_histogram_quantiles_and_observations() -> None:
    provider = MemoryProvider()
    histogram = provider.histogram("h_seconds", "", ("route",)).with_labels(route="/")
    for value in range(101):
        histogram.observe(value)
    assert provider.quantile("h_seconds", 0.5, route="/") == 50.0
    assert provider.quantile("h_seconds", 0.99, route="/") == 99.0
    assert provider.quantiles("h_seconds", (0.0, 1.0), route="/") == [0.0, 100.0]
    assert provider.observations("h_seconds", route="/") == [float(v) for v in range(101)]
    assert provider.histogram_count("h_seconds", route="/") == 101
    assert provider.histogram_sum("h_seconds", route="/") == 5050.0


def test_histogram_without_observations() -> None:
    provider = MemoryProvider()
    provider.histogram("empty_seconds", "", ("route",))
    assert math.isnan(provider.quantile("empty_seconds", 0.5, route="/"))
    assert provider.observations("empty_seconds", route="/") == []
    assert provider.histogram_count("empty_seconds", route="/") == 0
    assert provider.histogram_sum("empty_seconds", route="/") == 0.0


def test_reservoir_is_bounded_and_keeps_exact_count_and_sum() -> None:
    provider = MemoryProvider(reservoir_size=100, seed=3)
    histogram = provider.histogram("big_seconds")
    for value in range(20_000):
        histogram.observe(value)
    kept = provider.observations("big_seconds")
    assert len(kept) == 100
    assert set(kept) <= {float(v) for v in range(20_000)}
    assert max(kept) > 10_000  # sampling replaced early values with later ones
    assert provider.histogram_count("big_seconds") == 20_000
    assert provider.histogram_sum("big_seconds") == sum(range(20_000))


def test_reservoir_sample_is_uniform_enough_for_quantiles() -> None:
    rng = random.Random(11)
    reservoir = Reservoir(1000, rng)
    for value in range(50_000):
        reservoir.add(value)
    q50, q90 = reservoir.quantiles((0.5, 0.9))
    assert abs(q50 - 25_000) < 2_500
    assert abs(q90 - 45_000) < 2_500


def test_reservoir_is_reproducible_with_a_seed() -> None:
    def sample(seed: int) -> list[float]:
        provider = MemoryProvider(reservoir_size=10, seed=seed)
        histogram = provider.histogram("r_seconds")
        for value in range(1000):
            histogram.observe(value)
        return provider.observations("r_seconds")

    assert sample(5) == sample(5)
    assert sample(5) != sample(6)


def test_quantile_interpolates_linearly() -> None:
    assert quantile([1.0, 2.0], 0.5) == 1.5
    assert quantile([1.0, 2.0, 4.0], 0.75) == 3.0
    assert quantile([7.0], 0.9) == 7.0
    assert math.isnan(quantile([], 0.5))
    with pytest.raises(ValueError, match=r"within \[0, 1\]"):
        quantile([1.0], 1.5)


def test_invalid_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="reservoir_size must be >= 1"):
        MemoryProvider(reservoir_size=0)
    with pytest.raises(ValueError, match="reservoir size must be >= 1"):
        Reservoir(0, random.Random())


def test_reads_check_names_kinds_and_labels() -> None:
    provider = MemoryProvider()
    provider.counter("c_total", "", ("a", "b"))
    with pytest.raises(KeyError, match="no metric named 'missing'"):
        provider.counter_value("missing")
    with pytest.raises(ValueError, match="'c_total' is a counter, not a gauge"):
        provider.gauge_value("c_total", a=1, b=2)
    with pytest.raises(LabelError, match=r"unknown label 'c'; its labels are \('a', 'b'\)"):
        provider.counter_value("c_total", a=1, b=2, c=3)
    with pytest.raises(LabelError, match=r"label left unset: 'b'"):
        provider.counter_value("c_total", a=1)


def test_snapshot_is_json_and_covers_every_series() -> None:
    provider = MemoryProvider()
    provider.counter("req_total", "Requests.", ("code",)).with_labels(code=200).add(3)
    provider.gauge("temp").set(21.5)
    histogram = provider.histogram("lat_seconds", "Latency.", ("route",))
    for value in (0.1, 0.2, 0.3, 0.4):
        histogram.with_labels(route="/a").observe(value)
    histogram.with_labels(route="/b")  # bound but never observed
    snapshot = json.loads(json.dumps(provider.snapshot(), allow_nan=False))
    assert snapshot["req_total"] == {
        "kind": "counter",
        "help": "Requests.",
        "label_names": ["code"],
        "series": [{"labels": {"code": "200"}, "value": 3.0}],
    }
    assert snapshot["temp"]["series"] == [{"labels": {}, "value": 21.5}]
    series_a, series_b = snapshot["lat_seconds"]["series"]
    assert series_a["labels"] == {"route": "/a"}
    assert series_a["count"] == 4
    assert series_a["sum"] == pytest.approx(1.0)
    assert series_a["quantiles"]["0.5"] == pytest.approx(0.25)
    assert set(series_a["quantiles"]) == {"0.5", "0.9", "0.95", "0.99"}
    assert series_b == {"labels": {"route": "/b"}, "count": 0, "sum": 0.0, "quantiles": {}}


def test_unbound_labelled_metric_has_no_series() -> None:
    provider = MemoryProvider()
    provider.counter("only_labelled_total", "", ("a",))
    assert provider.snapshot()["only_labelled_total"]["series"] == []


def test_exposition_renders_prometheus_like_text() -> None:
    provider = MemoryProvider()
    provider.counter("req_total", "Requests\nserved.", ("path",)).with_labels(path='/q"x\\').add(2)
    provider.gauge("up").set(1)
    provider.histogram("lat_seconds", "", ("route",)).with_labels(route="/").observe(0.5)
    text = provider.exposition()
    assert text.splitlines() == [
        "# TYPE lat_seconds summary",
        'lat_seconds{route="/",quantile="0.5"} 0.5',
        'lat_seconds{route="/",quantile="0.9"} 0.5',
        'lat_seconds{route="/",quantile="0.95"} 0.5',
        'lat_seconds{route="/",quantile="0.99"} 0.5',
        'lat_seconds_sum{route="/"} 0.5',
        'lat_seconds_count{route="/"} 1',
        "# HELP req_total Requests\\nserved.",
        "# TYPE req_total counter",
        'req_total{path="/q\\"x\\\\"} 2.0',
        "# TYPE up gauge",
        "up 1.0",
    ]
    assert text.endswith("\n")
    assert MemoryProvider().exposition() == ""


def test_exposition_renders_special_floats() -> None:
    provider = MemoryProvider()
    provider.gauge("pos").set(float("inf"))
    provider.gauge("neg").set(float("-inf"))
    provider.gauge("nan").set(float("nan"))
    lines = set(provider.exposition().splitlines())
    assert {"pos +Inf", "neg -Inf", "nan NaN"} <= lines


def test_values_stay_readable_after_close() -> None:
    provider = MemoryProvider()
    provider.counter("kept_total").add()
    provider.close()
    assert provider.counter_value("kept_total") == 1.0


def test_recording_from_threads_loses_nothing() -> None:
    provider = MemoryProvider()
    counter = provider.counter("threads_total", "", ("worker",))
    histogram = provider.histogram("threads_seconds")
    gauge = provider.gauge("threads_gauge")

    def work(index: int) -> None:
        child = counter.with_labels(worker=index % 2)
        for _ in range(2000):
            child.add()
            gauge.add(1)
            histogram.observe(index)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert provider.counter_value("threads_total", worker=0) == 4000
    assert provider.counter_value("threads_total", worker=1) == 4000
    assert provider.gauge_value("threads_gauge") == 8000
    assert provider.histogram_count("threads_seconds") == 8000
