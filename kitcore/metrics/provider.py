"""Provider: the factory a backend offers for counters, gauges and histograms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from kitcore.metrics.metric import Counter, Gauge, Histogram


@runtime_checkable
class Provider(Protocol):
    """Creates metrics in one backend; the same name twice returns the same series."""

    def counter(self, name: str, help: str = "", label_names: Sequence[str] = ()) -> Counter:
        """Return the counter ``name`` (ValueError if ``name`` is another kind or labels)."""
        ...

    def gauge(self, name: str, help: str = "", label_names: Sequence[str] = ()) -> Gauge:
        """Return the gauge ``name`` (ValueError if ``name`` is another kind or labels)."""
        ...

    def histogram(
        self,
        name: str,
        help: str = "",
        label_names: Sequence[str] = (),
        buckets: Sequence[float] | None = None,
    ) -> Histogram:
        """Return the histogram ``name``; ``buckets`` are upper bounds, for bucketing backends."""
        ...

    def close(self) -> None:
        """Flush and release the backend's resources."""
        ...
