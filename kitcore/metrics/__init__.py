"""Metrics: counters, gauges and histograms with labels, behind pluggable backends.

As Go kit's ``metrics`` package: services record through the small types here, and the
backend (Prometheus, StatsD, ... as plugins; discard and in-memory in the core) is chosen
by passing a Provider. ``with_labels(...)`` returns a new metric bound to label values;
label mistakes are a :class:`LabelError` at ``with_labels``, whatever the backend.
"""

from __future__ import annotations

from typing import Any

from kitcore.metrics.discard import DiscardProvider
from kitcore.metrics.instrument import DURATION_BUCKETS, EndpointMetrics
from kitcore.metrics.memory import MemoryProvider
from kitcore.metrics.metric import Counter, Gauge, Histogram, LabelError, Metric
from kitcore.metrics.multi import MultiProvider
from kitcore.metrics.provider import Provider
from kitcore.metrics.registry import MetricRegistry

__all__ = [
    "DURATION_BUCKETS",
    "Counter",
    "DiscardProvider",
    "EndpointMetrics",
    "Gauge",
    "Histogram",
    "LabelError",
    "MemoryProvider",
    "Metric",
    "MetricRegistry",
    "MultiProvider",
    "Provider",
    "provider",
]


def provider(url: str, **options: Any) -> Provider:
    """Open the metrics provider that ``url`` names (``"prometheus"``, ``"statsd://h:p"``, ...)."""
    from kitcore.plugins import open_backend

    opened: Provider = open_backend("metrics", url, **options)
    return opened
