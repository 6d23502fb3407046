"""PrometheusProvider: kit's metrics Provider over prometheus-client.

Metrics go into a registry of the provider's own unless one is passed
(``prometheus_client.REGISTRY`` for the process-wide one). Asking twice for the same
name returns the same metric, even from two providers sharing one registry; a name
clash (another kind, other labels, or a series some other collector already exposes)
is a ValueError naming the metric, raised before prometheus-client is touched or
translated from its error.
"""

from __future__ import annotations

import os
import threading
import urllib.parse
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import prometheus_client
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from kit_prometheus.metrics import (
    Exemplar,
    PrometheusCounter,
    PrometheusGauge,
    PrometheusHistogram,
    PrometheusSummary,
)
from kit_prometheus.multiprocess import mark_dead, multiprocess_dir, multiprocess_registry
from kitcore.metrics import Counter, Gauge, Histogram, Metric, MetricRegistry
from kitcore.metrics.metric import check_name

_M = TypeVar("_M", bound=Metric)
_P = TypeVar("_P")

GAUGE_MODES: tuple[str, ...] = (
    "all",
    "liveall",
    "min",
    "livemin",
    "max",
    "livemax",
    "sum",
    "livesum",
    "mostrecent",
    "livemostrecent",
)
"""How multiprocess mode merges one gauge across processes (prometheus-client's modes)."""

# One kit MetricRegistry per prometheus registry, so two providers sharing a registry
# (typically the global one) hand out the same metric for the same name instead of
# colliding inside prometheus-client. Weak keys: a dropped registry takes its entry.
_shared: weakref.WeakKeyDictionary[CollectorRegistry, MetricRegistry] = weakref.WeakKeyDictionary()
_shared_lock = threading.Lock()


def _metrics_of(registry: CollectorRegistry) -> MetricRegistry:
    with _shared_lock:
        metrics = _shared.get(registry)
        if metrics is None:
            metrics = _shared[registry] = MetricRegistry()
        return metrics


class PrometheusProvider:
    """A kit metrics Provider recording into a prometheus-client ``CollectorRegistry``.

    ``registry``: where metrics are registered; a new one of the provider's own when
    None, ``prometheus_client.REGISTRY`` for the global one. ``namespace`` and
    ``subsystem`` prefix every name (``my_group_string_service_request_count``); dots
    in names become underscores. ``buckets`` are the histogram bounds used when a
    histogram is created without its own. ``gauge_mode`` is how multiprocess mode
    merges gauges across processes (one of :data:`GAUGE_MODES`). ``exemplar()``, when
    given, returns the labels of each histogram observation's exemplar, or None
    (``kit_otel.exemplar`` gives the current trace's id), shown in OpenMetrics.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        namespace: str = "",
        subsystem: str = "",
        buckets: Sequence[float] | None = None,
        gauge_mode: str = "all",
        exemplar: Exemplar | None = None,
    ) -> None:
        if gauge_mode not in GAUGE_MODES:
            raise ValueError(f"gauge_mode must be one of {GAUGE_MODES}, got {gauge_mode!r}")
        self.registry = CollectorRegistry() if registry is None else registry
        self.namespace = namespace
        self.subsystem = subsystem
        self.buckets: tuple[float, ...] = (
            tuple(buckets) if buckets is not None else prometheus_client.Histogram.DEFAULT_BUCKETS
        )
        self.gauge_mode = gauge_mode
        self.exemplar = exemplar
        """Called per histogram observation for exemplar labels (e.g. ``kit_otel.exemplar``)."""
        self.multiprocess_dir = multiprocess_dir()
        """The directory of per-process files in multiprocess mode, else None."""
        self._metrics = _metrics_of(self.registry)

    @classmethod
    def from_url(cls, url: str = "prometheus", **options: Any) -> PrometheusProvider:
        """Open ``prometheus`` or ``prometheus://?namespace=x&subsystem=y&registry=global``.

        Query parameters: ``namespace``, ``subsystem``, ``gauge_mode``, ``buckets``
        (comma-separated bounds) and ``registry`` (``global`` or ``own``); keyword
        ``options`` override them and may pass a ``CollectorRegistry`` as ``registry``.
        """
        parts = urllib.parse.urlsplit(url if "://" in url else url + "://")
        if parts.scheme != "prometheus" or parts.netloc or parts.path not in ("", "/"):
            raise ValueError(
                f"not a prometheus metrics URL: {url!r}; use 'prometheus' or "
                "'prometheus://?namespace=...&subsystem=...&registry=global'"
            )
        query: dict[str, Any] = dict(urllib.parse.parse_qsl(parts.query, strict_parsing=False))
        unknown = set(query) - {"namespace", "subsystem", "gauge_mode", "buckets", "registry"}
        if unknown:
            raise ValueError(f"unknown prometheus URL parameter(s) {sorted(unknown)} in {url!r}")
        if "buckets" in query:
            query["buckets"] = [float(b) for b in query["buckets"].split(",") if b]
        query.update(options)
        registry = query.pop("registry", None)
        if registry == "global":
            registry = prometheus_client.REGISTRY
        elif registry in (None, "own", ""):
            registry = None
        elif not isinstance(registry, CollectorRegistry):
            raise ValueError(
                f"registry must be 'global', 'own' or a CollectorRegistry, got {registry!r}"
            )
        return cls(registry, **query)

    def full_name(self, name: str) -> str:
        """Return the Prometheus name of ``name``: namespace and subsystem prefixed, dots as _."""
        check_name(name)
        return "_".join(
            part for part in (self.namespace, self.subsystem, name.replace(".", "_")) if part
        )

    # -- Provider ---------------------------------------------------------------------

    def counter(self, name: str, help: str = "", label_names: Sequence[str] = ()) -> Counter:
        """Return the counter ``name`` (exposed as ``<name>_total`` by prometheus-client)."""
        full = self.full_name(name)

        def create(names: tuple[str, ...]) -> PrometheusCounter:
            prom = self._register(
                "counter",
                full,
                lambda: prometheus_client.Counter(full, help, names, registry=self.registry),
            )
            return PrometheusCounter(full, help, names, prom)

        return self._get(PrometheusCounter, full, label_names, create)

    def gauge(self, name: str, help: str = "", label_names: Sequence[str] = ()) -> Gauge:
        """Return the gauge ``name``."""
        full = self.full_name(name)

        def create(names: tuple[str, ...]) -> PrometheusGauge:
            prom = self._register(
                "gauge",
                full,
                lambda: prometheus_client.Gauge(
                    full,
                    help,
                    names,
                    registry=self.registry,
                    multiprocess_mode=self.gauge_mode,  # type: ignore[arg-type]
                ),
            )
            return PrometheusGauge(full, help, names, prom)

        return self._get(PrometheusGauge, full, label_names, create)

    def histogram(
        self,
        name: str,
        help: str = "",
        label_names: Sequence[str] = (),
        buckets: Sequence[float] | None = None,
    ) -> Histogram:
        """Return the histogram ``name`` with ``buckets`` upper bounds (+Inf is added)."""
        full = self.full_name(name)
        bounds = tuple(buckets) if buckets is not None else self.buckets

        def create(names: tuple[str, ...]) -> PrometheusHistogram:
            prom = self._register(
                "histogram",
                full,
                lambda: prometheus_client.Histogram(
                    full, help, names, registry=self.registry, buckets=bounds
                ),
            )
            return PrometheusHistogram(full, help, names, prom, exemplar=self.exemplar)

        return self._get(PrometheusHistogram, full, label_names, create)

    def summary(self, name: str, help: str = "", label_names: Sequence[str] = ()) -> Histogram:
        """Return the summary ``name``: a Histogram exposing only ``_count`` and ``_sum``.

        prometheus-client summaries compute no quantiles; use :meth:`histogram` when
        quantiles are wanted (``histogram_quantile`` in PromQL).
        """
        full = self.full_name(name)

        def create(names: tuple[str, ...]) -> PrometheusSummary:
            prom = self._register(
                "summary",
                full,
                lambda: prometheus_client.Summary(full, help, names, registry=self.registry),
            )
            return PrometheusSummary(full, help, names, prom)

        return self._get(PrometheusSummary, full, label_names, create)

    def close(self) -> None:
        """In multiprocess mode, drop this process's live gauges; values stay readable."""
        if self.multiprocess_dir is not None:
            mark_dead(os.getpid(), self.multiprocess_dir)

    # -- exposition -------------------------------------------------------------------

    def exposition_registry(self) -> CollectorRegistry:
        """Return the registry to expose: every process's merged files in multiprocess mode."""
        if self.multiprocess_dir is not None:
            return multiprocess_registry(self.multiprocess_dir)
        return self.registry

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """Render the metrics in the format ``accept`` asks for: ``(body, content_type)``."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.exposition_registry()), content_type

    # -- internals --------------------------------------------------------------------

    def _get(
        self,
        kind: type[_M],
        full: str,
        label_names: Sequence[str],
        create: Callable[[tuple[str, ...]], _M],
    ) -> _M:
        return self._metrics.get_or_create(kind, full, label_names, create)

    def _register(self, kind: str, full: str, make: Callable[[], _P]) -> _P:
        try:
            return make()
        except ValueError as exc:
            # prometheus-client's messages name neither the kit call nor the usual cause.
            raise ValueError(
                f"cannot create {kind} {full!r} in the prometheus registry: {exc} (usual "
                "causes: another collector already exposes one of its series, e.g. a counter "
                "'x' and a counter 'x_total' both expose 'x_total'; or a reserved label "
                "name, 'le' for histograms and 'quantile' for summaries)"
            ) from exc
