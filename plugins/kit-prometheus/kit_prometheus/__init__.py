"""kit-prometheus: kit metrics recorded with prometheus-client and served at /metrics.

``PrometheusProvider`` is a ``kitcore.metrics.Provider``: counters, gauges, histograms
(buckets) and summaries with labels, on a registry of its own unless given one.
``metrics_app(provider)`` is the plain-ASGI ``/metrics`` endpoint (Prometheus text or
OpenMetrics by content negotiation); ``with_metrics(app, provider)`` puts it in front
of any ASGI app, such as a kit-http ``App``. Multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``) merges the metrics of several worker processes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitcore.lazy import lazy_exports

if TYPE_CHECKING:
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

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "MetricsApp": "kit_prometheus.asgi",
        "metrics_app": "kit_prometheus.asgi",
        "with_metrics": "kit_prometheus.asgi",
        "PrometheusCounter": "kit_prometheus.metrics",
        "PrometheusGauge": "kit_prometheus.metrics",
        "PrometheusHistogram": "kit_prometheus.metrics",
        "PrometheusSummary": "kit_prometheus.metrics",
        "multiprocess_dir": "kit_prometheus.multiprocess",
        "multiprocess_registry": "kit_prometheus.multiprocess",
        "GAUGE_MODES": "kit_prometheus.provider",
        "PrometheusProvider": "kit_prometheus.provider",
    },
)
