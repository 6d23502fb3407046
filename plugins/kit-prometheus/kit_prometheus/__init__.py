"""kit-prometheus: kit metrics recorded with prometheus-client and served at /metrics.

``PrometheusProvider`` is a ``kitcore.metrics.Provider``: counters, gauges, histograms
(buckets) and summaries with labels, on a registry of its own unless given one.
``metrics_app(provider)`` is the plain-ASGI ``/metrics`` endpoint (Prometheus text or
OpenMetrics by content negotiation); ``with_metrics(app, provider)`` puts it in front
of any ASGI app, such as a kit-http ``App``. Multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``) merges the metrics of several worker processes.
"""

from __future__ import annotations

from kit_prometheus.asgi import MetricsApp, metrics_app, with_metrics
from kit_prometheus.metrics import (
    PrometheusCounter,
    PrometheusGauge,
    PrometheusHistogram,
    PrometheusSummary,
)
from kit_prometheus.multiprocess import multiprocess_dir, multiprocess_registry
from kit_prometheus.provider import GAUGE_MODES, PrometheusProvider

__all__ = [
    "GAUGE_MODES",
    "MetricsApp",
    "PrometheusCounter",
    "PrometheusGauge",
    "PrometheusHistogram",
    "PrometheusProvider",
    "PrometheusSummary",
    "metrics_app",
    "multiprocess_dir",
    "multiprocess_registry",
    "with_metrics",
]
