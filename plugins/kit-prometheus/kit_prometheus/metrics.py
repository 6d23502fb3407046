"""kit metric types recording into prometheus-client metrics.

Each kit metric wraps one prometheus-client metric: the unbound root wraps the labelled
parent, and ``_bind`` wraps the child that ``labels(*values)`` returns. kit caches the
children, so the hot path (``with_labels(...).add()``) is a dict lookup plus the
client's own ``inc``, with no per-call label checking inside prometheus-client.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import prometheus_client

from kitcore.metrics import Counter, Gauge, Histogram


class PrometheusCounter(Counter):
    """A kit Counter backed by a prometheus-client Counter."""

    __slots__ = ("_inc", "prom")

    def __init__(
        self,
        name: str,
        help: str,
        label_names: Sequence[str],
        prom: prometheus_client.Counter,
        *,
        label_values: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(name, help, label_names, label_values=label_values)
        self.prom = prom
        # The client's inc() re-checks what kit's add() already checked (sign, a bound
        # metric) and looks for an exemplar; its value's inc() is the same update minus
        # that, and the hot path of every instrumented request. Fall back if it moves.
        value = getattr(prom, "_value", None)
        self._inc: Callable[[float], None] = value.inc if value is not None else prom.inc

    def _bind(self, label_values: tuple[str, ...]) -> PrometheusCounter:
        return PrometheusCounter(
            self.name,
            self.help,
            self.label_names,
            self.prom.labels(*label_values),
            label_values=label_values,
        )

    def _add(self, delta: float) -> None:
        self._inc(delta)


class PrometheusGauge(Gauge):
    """A kit Gauge backed by a prometheus-client Gauge."""

    __slots__ = ("_inc", "_set_value", "prom")

    def __init__(
        self,
        name: str,
        help: str,
        label_names: Sequence[str],
        prom: prometheus_client.Gauge,
        *,
        label_values: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(name, help, label_names, label_values=label_values)
        self.prom = prom
        self._inc = prom.inc
        self._set_value = prom.set

    def _bind(self, label_values: tuple[str, ...]) -> PrometheusGauge:
        return PrometheusGauge(
            self.name,
            self.help,
            self.label_names,
            self.prom.labels(*label_values),
            label_values=label_values,
        )

    def _set(self, value: float) -> None:
        self._set_value(value)

    def _add(self, delta: float) -> None:
        self._inc(delta)


class PrometheusHistogram(Histogram):
    """A kit Histogram backed by a prometheus-client Histogram (cumulative buckets)."""

    __slots__ = ("_observe_value", "prom")

    def __init__(
        self,
        name: str,
        help: str,
        label_names: Sequence[str],
        prom: prometheus_client.Histogram,
        *,
        label_values: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(name, help, label_names, label_values=label_values)
        self.prom = prom
        self._observe_value = prom.observe

    def _bind(self, label_values: tuple[str, ...]) -> PrometheusHistogram:
        return PrometheusHistogram(
            self.name,
            self.help,
            self.label_names,
            self.prom.labels(*label_values),
            label_values=label_values,
        )

    def _observe(self, value: float) -> None:
        self._observe_value(value)


class PrometheusSummary(Histogram):
    """A kit Histogram backed by a prometheus-client Summary (``_count`` and ``_sum`` only)."""

    __slots__ = ("_observe_value", "prom")
    kind = "summary"

    def __init__(
        self,
        name: str,
        help: str,
        label_names: Sequence[str],
        prom: prometheus_client.Summary,
        *,
        label_values: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(name, help, label_names, label_values=label_values)
        self.prom = prom
        self._observe_value = prom.observe

    def _bind(self, label_values: tuple[str, ...]) -> PrometheusSummary:
        return PrometheusSummary(
            self.name,
            self.help,
            self.label_names,
            self.prom.labels(*label_values),
            label_values=label_values,
        )

    def _observe(self, value: float) -> None:
        self._observe_value(value)
