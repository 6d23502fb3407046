"""MultiProvider: every metric fans out to several providers.

For running two backends side by side, for example while migrating from StatsD to
Prometheus, or to keep a MemoryProvider next to the real backend for tests.
"""

from __future__ import annotations

from collections.abc import Sequence

from kitcore.metrics.metric import Counter, Gauge, Histogram
from kitcore.metrics.provider import Provider
from kitcore.metrics.registry import MetricRegistry


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> dict[str, str]:
    return dict(zip(names, values, strict=True))


class MultiCounter(Counter):
    """A counter that adds to one counter per provider."""

    __slots__ = ("metrics",)

    def __init__(
        self,
        name: str,
        help: str,
        label_names: Sequence[str],
        metrics: tuple[Counter, ...],
        *,
        label_values: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(name, help, label_names, label_values=label_values)
        self.metrics = metrics

    def _bind(self, label_values: tuple[str, ...]) -> MultiCounter:
        labels = _labels(self.label_names, label_values)
        children = tuple(metric.with_labels(**labels) for metric in self.metrics)
        return MultiCounter(
            self.name, self.help, self.label_names, children, label_values=label_values
        )

    def _add(self, delta: float) -> None:
        for metric in self.metrics:
            metric.add(delta)


class MultiGauge(Gauge):
    """A gauge that sets one gauge per provider."""

    __slots__ = ("metrics",)

    def __init__(
        self,
        name: str,
        help: str,
        label_names: Sequence[str],
        metrics: tuple[Gauge, ...],
        *,
        label_values: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(name, help, label_names, label_values=label_values)
        self.metrics = metrics

    def _bind(self, label_values: tuple[str, ...]) -> MultiGauge:
        labels = _labels(self.label_names, label_values)
        children = tuple(metric.with_labels(**labels) for metric in self.metrics)
        return MultiGauge(
            self.name, self.help, self.label_names, children, label_values=label_values
        )

    def _set(self, value: float) -> None:
        for metric in self.metrics:
            metric.set(value)

    def _add(self, delta: float) -> None:
        for metric in self.metrics:
            metric.add(delta)


class MultiHistogram(Histogram):
    """A histogram that observes into one histogram per provider."""

    __slots__ = ("metrics",)

    def __init__(
        self,
        name: str,
        help: str,
        label_names: Sequence[str],
        metrics: tuple[Histogram, ...],
        *,
        label_values: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(name, help, label_names, label_values=label_values)
        self.metrics = metrics

    def _bind(self, label_values: tuple[str, ...]) -> MultiHistogram:
        labels = _labels(self.label_names, label_values)
        children = tuple(metric.with_labels(**labels) for metric in self.metrics)
        return MultiHistogram(
            self.name, self.help, self.label_names, children, label_values=label_values
        )

    def _observe(self, value: float) -> None:
        for metric in self.metrics:
            metric.observe(value)


class MultiProvider:
    """A Provider whose metrics record into every one of ``providers``."""

    def __init__(self, *providers: Provider) -> None:
        self.providers = providers
        self._registry = MetricRegistry()

    def counter(self, name: str, help: str = "", label_names: Sequence[str] = ()) -> Counter:
        """Return a counter that adds to the counter ``name`` of every provider."""
        return self._registry.get_or_create(
            Counter,
            name,
            label_names,
            lambda names: MultiCounter(
                name, help, names, tuple(p.counter(name, help, names) for p in self.providers)
            ),
        )

    def gauge(self, name: str, help: str = "", label_names: Sequence[str] = ()) -> Gauge:
        """Return a gauge that sets the gauge ``name`` of every provider."""
        return self._registry.get_or_create(
            Gauge,
            name,
            label_names,
            lambda names: MultiGauge(
                name, help, names, tuple(p.gauge(name, help, names) for p in self.providers)
            ),
        )

    def histogram(
        self,
        name: str,
        help: str = "",
        label_names: Sequence[str] = (),
        buckets: Sequence[float] | None = None,
    ) -> Histogram:
        """Return a histogram that observes into the histogram ``name`` of every provider."""
        return self._registry.get_or_create(
            Histogram,
            name,
            label_names,
            lambda names: MultiHistogram(
                name,
                help,
                names,
                tuple(p.histogram(name, help, names, buckets) for p in self.providers),
            ),
        )

    def close(self) -> None:
        """Close every provider, in order, even if one fails (the first error is re-raised)."""
        error: BaseException | None = None
        for provider in self.providers:
            try:
                provider.close()
            except Exception as exc:
                error = error or exc
        if error is not None:
            raise error
