"""MemoryProvider: metrics kept in process memory, readable back.

For tests (assert on what a service recorded) and for small services that serve their
metrics themselves: ``snapshot()`` is a JSON-able view of every series and
``exposition()`` a Prometheus-like text rendering. Histograms keep a bounded reservoir
of observations per series and answer quantiles from it. One lock guards all values, so
metrics may be recorded from the event loop and from worker threads alike.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from kitcore.metrics.metric import Counter, Gauge, Histogram, LabelError
from kitcore.metrics.registry import MetricRegistry
from kitcore.metrics.reservoir import Reservoir

SUMMARY_QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99)
"""The quantiles ``snapshot()`` and ``exposition()`` report for each histogram series."""

DEFAULT_RESERVOIR_SIZE = 10_000
"""Observations kept per histogram series before sampling replaces old ones."""


class _Scalar:
    """The value of one counter or gauge series."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0


class _Family:
    """Every series of one metric name, by label values."""

    __slots__ = ("help", "kind", "label_names", "lock", "make_reservoir", "name", "series")

    def __init__(
        self,
        name: str,
        kind: str,
        help: str,
        label_names: tuple[str, ...],
        lock: threading.Lock,
        make_reservoir: Any,
    ) -> None:
        self.name = name
        self.kind = kind
        self.help = help
        self.label_names = label_names
        self.lock = lock
        self.make_reservoir = make_reservoir
        self.series: dict[tuple[str, ...], Any] = {}

    def series_for(self, label_values: tuple[str, ...]) -> Any:
        """Return the series for these label values, creating it at zero."""
        with self.lock:
            series = self.series.get(label_values)
            if series is None:
                series = self.make_reservoir() if self.kind == "histogram" else _Scalar()
                self.series[label_values] = series
            return series

    def key(self, labels: Mapping[str, object]) -> tuple[str, ...]:
        """Return the label values tuple for a read, checking the label names."""
        if labels.keys() != set(self.label_names):
            unknown = [label for label in labels if label not in self.label_names]
            missing = [label for label in self.label_names if label not in labels]
            label = (unknown or missing)[0]
            problem = "unknown label" if unknown else "label left unset:"
            raise LabelError(
                f"metric {self.name!r}: {problem} {label!r}; its labels are {self.label_names}",
                metric=self.name,
                label=label,
                label_names=self.label_names,
            )
        return tuple(str(labels[label]) for label in self.label_names)


def _series(family: _Family, label_values: tuple[str, ...] | None) -> Any:
    # An unbound labelled root never records (the base class refuses first), so it gets a
    # detached placeholder instead of a series that would show up in snapshots.
    if label_values is None and family.label_names:
        return Reservoir(1, random.Random(0)) if family.kind == "histogram" else _Scalar()
    return family.series_for(label_values or ())


class MemoryCounter(Counter):
    """A counter whose value lives in a MemoryProvider."""

    __slots__ = ("_family", "_series")

    def __init__(self, family: _Family, *, label_values: tuple[str, ...] | None = None) -> None:
        super().__init__(family.name, family.help, family.label_names, label_values=label_values)
        self._family = family
        self._series: _Scalar = _series(family, label_values)

    def _bind(self, label_values: tuple[str, ...]) -> MemoryCounter:
        return MemoryCounter(self._family, label_values=label_values)

    def _add(self, delta: float) -> None:
        with self._family.lock:
            self._series.value += delta


class MemoryGauge(Gauge):
    """A gauge whose value lives in a MemoryProvider."""

    __slots__ = ("_family", "_series")

    def __init__(self, family: _Family, *, label_values: tuple[str, ...] | None = None) -> None:
        super().__init__(family.name, family.help, family.label_names, label_values=label_values)
        self._family = family
        self._series: _Scalar = _series(family, label_values)

    def _bind(self, label_values: tuple[str, ...]) -> MemoryGauge:
        return MemoryGauge(self._family, label_values=label_values)

    def _set(self, value: float) -> None:
        with self._family.lock:
            self._series.value = float(value)

    def _add(self, delta: float) -> None:
        with self._family.lock:
            self._series.value += delta


class MemoryHistogram(Histogram):
    """A histogram whose observations live in a MemoryProvider's reservoir."""

    __slots__ = ("_family", "_series")

    def __init__(self, family: _Family, *, label_values: tuple[str, ...] | None = None) -> None:
        super().__init__(family.name, family.help, family.label_names, label_values=label_values)
        self._family = family
        self._series: Reservoir = _series(family, label_values)

    def _bind(self, label_values: tuple[str, ...]) -> MemoryHistogram:
        return MemoryHistogram(self._family, label_values=label_values)

    def _observe(self, value: float) -> None:
        with self._family.lock:
            self._series.add(float(value))


class MemoryProvider:
    """A Provider keeping every series in memory, with read-back for tests and dashboards.

    ``reservoir_size`` bounds the observations kept per histogram series; ``seed`` makes
    the reservoir's sampling reproducible.
    """

    def __init__(self, *, reservoir_size: int = DEFAULT_RESERVOIR_SIZE, seed: int | None = None):
        if reservoir_size < 1:
            raise ValueError(f"reservoir_size must be >= 1, got {reservoir_size!r}")
        self.reservoir_size = reservoir_size
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._registry = MetricRegistry()
        self._families: dict[str, _Family] = {}

    # -- Provider ---------------------------------------------------------------------

    def counter(self, name: str, help: str = "", label_names: Sequence[str] = ()) -> Counter:
        """Return the counter ``name``, creating it on first use."""
        return self._registry.get_or_create(
            Counter,
            name,
            label_names,
            lambda names: MemoryCounter(self._family_for(name, "counter", help, names)),
        )

    def gauge(self, name: str, help: str = "", label_names: Sequence[str] = ()) -> Gauge:
        """Return the gauge ``name``, creating it on first use."""
        return self._registry.get_or_create(
            Gauge,
            name,
            label_names,
            lambda names: MemoryGauge(self._family_for(name, "gauge", help, names)),
        )

    def histogram(
        self,
        name: str,
        help: str = "",
        label_names: Sequence[str] = (),
        buckets: Sequence[float] | None = None,
    ) -> Histogram:
        """Return the histogram ``name``; ``buckets`` are ignored (raw observations are kept)."""
        return self._registry.get_or_create(
            Histogram,
            name,
            label_names,
            lambda names: MemoryHistogram(self._family_for(name, "histogram", help, names)),
        )

    def close(self) -> None:
        """Do nothing: values stay readable after close."""

    # -- reading back -----------------------------------------------------------------

    def counter_value(self, name: str, /, **labels: object) -> float:
        """Return the counter series' value (0 for a series never touched)."""
        return self._scalar(name, "counter", labels)

    def gauge_value(self, name: str, /, **labels: object) -> float:
        """Return the gauge series' value (0 for a series never touched)."""
        return self._scalar(name, "gauge", labels)

    def quantile(self, name: str, q: float, /, **labels: object) -> float:
        """Return the histogram series' ``q``-quantile of kept observations (NaN if none)."""
        return self.quantiles(name, (q,), **labels)[0]

    def quantiles(self, name: str, qs: Sequence[float], /, **labels: object) -> list[float]:
        """Return several quantiles of the histogram series at once."""
        reservoir = self._reservoir(name, labels)
        if reservoir is None:
            return [math.nan for _ in qs]
        with self._lock:
            return reservoir.quantiles(qs)

    def observations(self, name: str, /, **labels: object) -> list[float]:
        """Return the histogram series' kept observations (all of them up to the bound)."""
        reservoir = self._reservoir(name, labels)
        if reservoir is None:
            return []
        with self._lock:
            return list(reservoir.values)

    def histogram_count(self, name: str, /, **labels: object) -> int:
        """Return how many observations the histogram series has seen (beyond the bound too)."""
        reservoir = self._reservoir(name, labels)
        return 0 if reservoir is None else reservoir.count

    def histogram_sum(self, name: str, /, **labels: object) -> float:
        """Return the sum of every observation of the histogram series."""
        reservoir = self._reservoir(name, labels)
        return 0.0 if reservoir is None else reservoir.sum

    def snapshot(self) -> dict[str, Any]:
        """Return a JSON-able view of every series: ``{name: {kind, help, label_names, series}}``.

        A counter or gauge series is ``{"labels", "value"}``; a histogram series is
        ``{"labels", "count", "sum", "quantiles": {"0.5": ..., ...}}`` (no quantiles when empty).
        """
        result: dict[str, Any] = {}
        with self._lock:
            families = list(self._families.values())
            for family in families:
                series_list: list[dict[str, Any]] = []
                for values, series in family.series.items():
                    entry: dict[str, Any] = {
                        "labels": dict(zip(family.label_names, values, strict=True))
                    }
                    if isinstance(series, Reservoir):
                        entry["count"] = series.count
                        entry["sum"] = series.sum
                        entry["quantiles"] = (
                            dict(
                                zip(
                                    (str(q) for q in SUMMARY_QUANTILES),
                                    series.quantiles(SUMMARY_QUANTILES),
                                    strict=True,
                                )
                            )
                            if series.count
                            else {}
                        )
                    else:
                        entry["value"] = series.value
                    series_list.append(entry)
                result[family.name] = {
                    "kind": family.kind,
                    "help": family.help,
                    "label_names": list(family.label_names),
                    "series": series_list,
                }
        return result

    def exposition(self) -> str:
        """Render every series as Prometheus-like text; histograms appear as summaries."""
        lines: list[str] = []
        for name, family in sorted(self.snapshot().items()):
            kind = "summary" if family["kind"] == "histogram" else family["kind"]
            if family["help"]:
                lines.append(f"# HELP {name} {_escape_help(family['help'])}")
            lines.append(f"# TYPE {name} {kind}")
            for series in family["series"]:
                labels = series["labels"]
                if kind != "summary":
                    lines.append(f"{name}{_labels(labels)} {_number(series['value'])}")
                    continue
                for q, value in series["quantiles"].items():
                    lines.append(f"{name}{_labels({**labels, 'quantile': q})} {_number(value)}")
                lines.append(f"{name}_sum{_labels(labels)} {_number(series['sum'])}")
                lines.append(f"{name}_count{_labels(labels)} {_number(series['count'])}")
        return "\n".join(lines) + "\n" if lines else ""

    # -- internals --------------------------------------------------------------------

    def _family_for(self, name: str, kind: str, help: str, label_names: tuple[str, ...]) -> _Family:
        family = _Family(name, kind, help, label_names, self._lock, self._new_reservoir)
        with self._lock:
            self._families[name] = family
        return family

    def _new_reservoir(self) -> Reservoir:
        return Reservoir(self.reservoir_size, self._rng)

    def _family(self, name: str, kind: str) -> _Family:
        family = self._families.get(name)
        if family is None:
            raise KeyError(f"no metric named {name!r} in this MemoryProvider")
        if family.kind != kind:
            raise ValueError(f"metric {name!r} is a {family.kind}, not a {kind}")
        return family

    def _scalar(self, name: str, kind: str, labels: Mapping[str, object]) -> float:
        family = self._family(name, kind)
        series = family.series.get(family.key(labels))
        return 0.0 if series is None else float(series.value)

    def _reservoir(self, name: str, labels: Mapping[str, object]) -> Reservoir | None:
        family = self._family(name, "histogram")
        series: Reservoir | None = family.series.get(family.key(labels))
        return series


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape_value(v)}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if isinstance(value, float) else str(value)
