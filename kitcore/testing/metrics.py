"""Conformance suite for metrics backends: does a Provider record what it is told?

A plugin author runs it with their provider and a reader that reads values back from
the backend itself (a Prometheus registry or scrape, StatsD datagrams, ...)::

    async def test_conformance():
        registry = prometheus_client.CollectorRegistry()
        await check_provider(PrometheusProvider(registry), RegistryReader(registry))

The suite creates metrics under fresh unique names, records known values and checks
them through the reader: counters (several label sets kept apart), gauges (set and
add), histograms (quantiles of seeded normal samples, within ``quantile_tolerance``),
label errors at ``with_labels`` and name clashes. A failure raises AssertionError saying
what was expected and what was read. ``MemoryReader`` reads a MemoryProvider, so the
core passes its own suite.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from kitcore.metrics import (
    Counter,
    Gauge,
    Histogram,
    LabelError,
    MemoryProvider,
    Metric,
    Provider,
)
from kitcore.metrics.reservoir import quantile

HISTOGRAM_BUCKETS: tuple[float, ...] = tuple(round(0.5 + i * 0.01, 2) for i in range(101))
"""Bucket bounds the suite gives its histograms: 0.5 to 1.5 by 0.01, around its samples."""

CHECKED_QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99)
"""The quantiles compared against the true quantiles of the observed values."""


class MetricsReader(Protocol):
    """Reads recorded values back from a backend; labels are the string label values."""

    async def counter(self, name: str, labels: Mapping[str, str]) -> float:
        """Return the counter series' current total."""
        ...

    async def gauge(self, name: str, labels: Mapping[str, str]) -> float:
        """Return the gauge series' current value."""
        ...

    async def quantiles(
        self, name: str, labels: Mapping[str, str], qs: Sequence[float]
    ) -> list[float]:
        """Return the histogram series' quantiles ``qs``, in order."""
        ...


class MemoryReader:
    """A MetricsReader over a MemoryProvider."""

    def __init__(self, provider: MemoryProvider) -> None:
        self.provider = provider

    async def counter(self, name: str, labels: Mapping[str, str]) -> float:
        """Return the counter series' value."""
        return self.provider.counter_value(name, **labels)

    async def gauge(self, name: str, labels: Mapping[str, str]) -> float:
        """Return the gauge series' value."""
        return self.provider.gauge_value(name, **labels)

    async def quantiles(
        self, name: str, labels: Mapping[str, str], qs: Sequence[float]
    ) -> list[float]:
        """Return the histogram series' quantiles."""
        return self.provider.quantiles(name, qs, **labels)


async def check_provider(
    provider: Provider,
    reader: MetricsReader,
    *,
    prefix: str = "kitconf",
    quantile_tolerance: float = 0.03,
    samples: int = 2000,
    seed: int = 1729,
) -> None:
    """Check that ``provider`` records what it is told, reading values back via ``reader``.

    ``quantile_tolerance`` is the relative error allowed between a quantile read back and
    the true quantile of the observed values; ``samples`` values (at least 1,000) are
    observed into one histogram series, a quarter as many into another. Metric names
    start with ``prefix`` and a random suffix, so the suite may run twice on one backend.
    """
    if samples < 1000:
        raise ValueError(f"samples must be >= 1000 for meaningful quantiles, got {samples}")
    base = f"{prefix}_{uuid.uuid4().hex[:8]}"
    await _check_counters(provider, reader, base)
    await _check_gauges(provider, reader, base)
    await _check_histograms(provider, reader, base, quantile_tolerance, samples, seed)
    _check_label_errors(provider, base)
    _check_name_clashes(provider, base)


async def _check_counters(provider: Provider, reader: MetricsReader, base: str) -> None:
    name = f"{base}_requests_total"
    counter = provider.counter(name, "Requests seen by the conformance suite.", ("method", "code"))
    _expect_type(counter, Counter, "counter")
    get_ok = counter.with_labels(method="get", code=200)  # values are str()'d
    get_ok.add()
    get_ok.add(2.5)
    counter.with_labels(method="post", code="500").add(4)
    counter.with_labels(code="200", method="get").add(0.5)  # the same series again
    provider.counter(
        name, "Requests seen by the conformance suite.", ("method", "code")
    ).with_labels(method="get", code="200").add(1)  # same name again: the same series
    _expect_close(
        "counter " + name + " {method=get, code=200}",
        await reader.counter(name, {"method": "get", "code": "200"}),
        5.0,
    )
    _expect_close(
        "counter " + name + " {method=post, code=500}",
        await reader.counter(name, {"method": "post", "code": "500"}),
        4.0,
    )
    _expect_raises(ValueError, "counter.add(-1)", lambda: get_ok.add(-1))

    plain = f"{base}_events_total"
    events = provider.counter(plain, "Unlabelled events.")
    events.add()
    events.add()
    events.with_labels().add()  # no labels to bind: the same series
    _expect_close("counter " + plain, await reader.counter(plain, {}), 3.0)


async def _check_gauges(provider: Provider, reader: MetricsReader, base: str) -> None:
    name = f"{base}_temperature"
    gauge = provider.gauge(name, "Temperatures by room.", ("room",))
    _expect_type(gauge, Gauge, "gauge")
    kitchen = gauge.with_labels(room="kitchen")
    kitchen.set(3)
    kitchen.add(2)
    kitchen.add(-1.5)
    cellar = gauge.with_labels(room="cellar")
    cellar.set(-7.25)
    _expect_close(
        "gauge " + name + " {room=kitchen} after set(3), add(2), add(-1.5)",
        await reader.gauge(name, {"room": "kitchen"}),
        3.5,
    )
    _expect_close(
        "gauge " + name + " {room=cellar} after set(-7.25)",
        await reader.gauge(name, {"room": "cellar"}),
        -7.25,
    )
    cellar.set(12)
    _expect_close(
        "gauge " + name + " {room=cellar} after set(12)",
        await reader.gauge(name, {"room": "cellar"}),
        12.0,
    )


async def _check_histograms(
    provider: Provider,
    reader: MetricsReader,
    base: str,
    tolerance: float,
    samples: int,
    seed: int,
) -> None:
    name = f"{base}_latency_seconds"
    histogram = provider.histogram(
        name, "Latencies by route.", ("route",), buckets=HISTOGRAM_BUCKETS
    )
    _expect_type(histogram, Histogram, "histogram")
    rng = random.Random(seed)
    # Clipped inside the buckets so bucketing backends lose nothing to the +Inf bucket.
    series = {
        "a": [min(max(rng.gauss(1.0, 0.1), 0.51), 1.49) for _ in range(samples)],
        "b": [min(max(rng.gauss(0.8, 0.05), 0.51), 1.49) for _ in range(samples // 4)],
    }
    bound = {route: histogram.with_labels(route=route) for route in series}
    for index in range(samples):  # interleaved, as real traffic is
        for route, values in series.items():
            if index < len(values):
                bound[route].observe(values[index])
    for route, values in series.items():
        ordered = sorted(values)
        want = [quantile(ordered, q) for q in CHECKED_QUANTILES]
        got = await reader.quantiles(name, {"route": route}, CHECKED_QUANTILES)
        if len(got) != len(want):
            raise AssertionError(
                f"histogram {name} {{route={route}}}: asked for quantiles {CHECKED_QUANTILES}, "
                f"read {len(got)} values: {got}"
            )
        for q, g, w in zip(CHECKED_QUANTILES, got, want, strict=True):
            if not (math.isfinite(g) and abs(g - w) <= tolerance * abs(w)):
                raise AssertionError(
                    f"histogram {name} {{route={route}}}: q{q:g} read {g!r}, but the true "
                    f"quantile of the {len(values)} observed values is {w!r} "
                    f"(tolerance {tolerance:.1%} relative)"
                )


def _check_label_errors(provider: Provider, base: str) -> None:
    labels = ("endpoint", "error")
    counter = provider.counter(f"{base}_label_errors_total", "", labels)
    gauge = provider.gauge(f"{base}_label_errors_gauge", "", labels)
    histogram = provider.histogram(
        f"{base}_label_errors_seconds", "", labels, buckets=HISTOGRAM_BUCKETS
    )
    _check_label_errors_of(counter, counter.add)
    _check_label_errors_of(gauge, lambda: gauge.set(1))
    _check_label_errors_of(histogram, lambda: histogram.observe(1))


def _check_label_errors_of(metric: Metric, record: Callable[[], object]) -> None:
    """Check ``metric`` (labels endpoint, error) refuses every label mistake."""
    what = f"{metric.kind} {metric.name}"
    _expect_label_error(
        f"{what}.with_labels(endpoint=..., error=..., bogus=...)",
        lambda: metric.with_labels(endpoint="a", error="none", bogus="x"),
        metric.name,
        "bogus",
    )
    _expect_label_error(
        f"{what}.with_labels(endpoint=...) leaving 'error' unset",
        lambda: metric.with_labels(endpoint="a"),
        metric.name,
        "error",
    )
    _expect_label_error(
        f"{what}.with_labels(...).with_labels(endpoint=...) giving 'endpoint' twice",
        lambda: metric.with_labels(endpoint="a", error="none").with_labels(endpoint="b"),
        metric.name,
        "endpoint",
    )
    _expect_label_error(f"recording on {what} without with_labels", record, metric.name, None)
    child = metric.with_labels(endpoint="a", error="none")
    if child is metric or child.label_values != ("a", "none") or metric.label_values:
        raise AssertionError(
            f"{what}: with_labels must return a new metric bound to ('a', 'none') and leave "
            f"the original unbound; got label_values {child.label_values}, original "
            f"label_values {metric.label_values}"
        )


def _check_name_clashes(provider: Provider, base: str) -> None:
    name = f"{base}_clash_total"
    provider.counter(name, "", ("endpoint",))
    _expect_raises(
        ValueError, f"provider.gauge({name!r}) of a counter's name", lambda: provider.gauge(name)
    )
    _expect_raises(
        ValueError,
        f"provider.counter({name!r}) with other label names",
        lambda: provider.counter(name, "", ("method",)),
    )


def _expect_type(metric: object, kind: type, what: str) -> None:
    if not isinstance(metric, kind):
        raise AssertionError(
            f"provider.{what}() returned {type(metric).__name__}, which does not subclass "
            f"kitcore.metrics.{kind.__name__}"
        )


def _expect_close(what: str, got: float, want: float) -> None:
    if not math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9):
        raise AssertionError(f"{what}: read {got!r}, expected {want!r}")


def _expect_raises(error: type[Exception], what: str, call: Callable[[], object]) -> None:
    try:
        call()
    except error:
        return
    except Exception as exc:
        raise AssertionError(
            f"{what} raised {type(exc).__name__}({exc}), expected {error.__name__}"
        ) from exc
    raise AssertionError(f"{what} raised nothing, expected {error.__name__}")


def _expect_label_error(
    what: str, call: Callable[[], object], metric: str, label: str | None
) -> None:
    try:
        call()
    except LabelError as exc:
        message = str(exc)
        for part in (metric, label):
            if part is not None and part not in message:
                raise AssertionError(
                    f"{what} raised LabelError({message!r}), whose message does not name {part!r}"
                ) from exc
        return
    except Exception as exc:
        raise AssertionError(
            f"{what} raised {type(exc).__name__}({exc}), expected kitcore.metrics.LabelError"
        ) from exc
    raise AssertionError(f"{what} raised nothing, expected kitcore.metrics.LabelError")
