"""DiscardProvider: metrics that check their labels and record nothing.

For services and tests that take a Provider but do not want metrics.
"""

from __future__ import annotations

from collections.abc import Sequence

from kitcore.metrics.metric import Counter, Gauge, Histogram
from kitcore.metrics.registry import MetricRegistry


class DiscardCounter(Counter):
    """A counter that records nothing."""

    __slots__ = ()
    child_cache_size = 0  # children are free to make; caching them would only cost memory

    def _bind(self, label_values: tuple[str, ...]) -> DiscardCounter:
        return DiscardCounter(self.name, self.help, self.label_names, label_values=label_values)

    def _add(self, delta: float) -> None:
        pass


class DiscardGauge(Gauge):
    """A gauge that records nothing."""

    __slots__ = ()
    child_cache_size = 0

    def _bind(self, label_values: tuple[str, ...]) -> DiscardGauge:
        return DiscardGauge(self.name, self.help, self.label_names, label_values=label_values)

    def _set(self, value: float) -> None:
        pass

    def _add(self, delta: float) -> None:
        pass


class DiscardHistogram(Histogram):
    """A histogram that records nothing."""

    __slots__ = ()
    child_cache_size = 0

    def _bind(self, label_values: tuple[str, ...]) -> DiscardHistogram:
        return DiscardHistogram(self.name, self.help, self.label_names, label_values=label_values)

    def _observe(self, value: float) -> None:
        pass


class DiscardProvider:
    """A Provider whose metrics record nothing (labels are still checked)."""

    def __init__(self) -> None:
        self._registry = MetricRegistry()

    def counter(self, name: str, help: str = "", label_names: Sequence[str] = ()) -> Counter:
        """Return a counter that records nothing."""
        return self._registry.get_or_create(
            Counter, name, label_names, lambda names: DiscardCounter(name, help, names)
        )

    def gauge(self, name: str, help: str = "", label_names: Sequence[str] = ()) -> Gauge:
        """Return a gauge that records nothing."""
        return self._registry.get_or_create(
            Gauge, name, label_names, lambda names: DiscardGauge(name, help, names)
        )

    def histogram(
        self,
        name: str,
        help: str = "",
        label_names: Sequence[str] = (),
        buckets: Sequence[float] | None = None,
    ) -> Histogram:
        """Return a histogram that records nothing."""
        return self._registry.get_or_create(
            Histogram, name, label_names, lambda names: DiscardHistogram(name, help, names)
        )

    def close(self) -> None:
        """Do nothing: there is nothing to release."""
