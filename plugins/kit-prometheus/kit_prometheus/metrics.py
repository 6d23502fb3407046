"""kit metric types recording into prometheus-client metrics.

Each kit metric wraps one prometheus-client metric: the unbound root wraps the labelled
parent, and ``_bind`` wraps the child that ``labels(*values)`` returns. kit caches the
children, so the hot path (``with_labels(...).add()``) is a dict lookup plus one update.

That update records exactly what the client's own call would, for a fraction of the
cost. The client's ``inc`` and ``observe`` re-check what kit already checked (a bound
metric, the sign), look for an exemplar (kit passes none), a histogram walks its bounds
one by one, and each single-process ``MutexValue`` adds under its lock in a ``with``
block. Here a bound metric's recording hook (``_add``, ``_observe``) is a slot holding
the recording function itself, one call less; a histogram bisects its bounds; and a
``MutexValue`` is added to between its lock's bound acquire and release. Any other
value (multiprocess ``MmapedValue``, which writes its file) is added to through its own
``inc``, and a client whose private attributes moved gets its public calls.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import prometheus_client
from prometheus_client.values import MutexValue

from kitcore.metrics import Counter, Gauge, Histogram
from kitcore.metrics.metric import Record


def _lock_of(value: Any) -> Any:
    """Return the lock of a single-process ``MutexValue``; None for any other value."""
    if type(value) is not MutexValue or not hasattr(value, "_value"):
        return None
    return getattr(value, "_lock", None)


def _value_adder(value: Any) -> Record:
    """Return a function adding to one prometheus-client value, exactly as its ``inc``.

    A ``MutexValue.inc`` is ``with self._lock: self._value += amount``; the same update
    between the lock's bound acquire and release costs half. Other values keep ``inc``.
    """
    lock = _lock_of(value)
    if lock is None:
        inc: Record = value.inc
        return inc
    acquire, release = lock.acquire, lock.release

    def add(amount: float) -> None:
        acquire()
        try:
            value._value += amount
        finally:
            release()

    return add


def _observer(prom: prometheus_client.Histogram) -> Record:
    """Return a function making ``prom.observe(amount)``'s updates, without its checks.

    The client's updates in its order: the sum, then the first bucket whose bound is >=
    amount (+Inf at the latest; kit refused NaN before). Buckets hold their own counts;
    collecting makes them cumulative.
    """
    bounds = getattr(prom, "_upper_bounds", None)
    buckets = getattr(prom, "_buckets", None)
    total = getattr(prom, "_sum", None)
    if (
        total is None
        or not isinstance(bounds, list)
        or not isinstance(buckets, list)
        or len(bounds) != len(buckets)
        or len(bounds) < 2
        or bounds[-1] != math.inf
    ):
        return prom.observe
    bounds = list(bounds)
    # bisect_left costs a dozen float comparisons (a C call parsing its arguments): one
    # comparison first settles every observation below the first bound (requests faster
    # than the shortest latency bound), and bisection starts after it.
    first = bounds[0]
    sum_lock = _lock_of(total)
    bucket_locks = [_lock_of(bucket) for bucket in buckets]
    if sum_lock is None or None in bucket_locks:
        add_sum: Record = total.inc
        add_to_bucket: list[Record] = [bucket.inc for bucket in buckets]

        def observe(amount: float) -> None:
            add_sum(amount)
            add_to_bucket[0 if amount <= first else bisect_left(bounds, amount, 1)](1.0)

        return observe

    # As _value_adder's, both updates inline: two calls less per observation.
    sum_acquire, sum_release = sum_lock.acquire, sum_lock.release
    targets = [
        (b, lock.acquire, lock.release) for b, lock in zip(buckets, bucket_locks, strict=True)
    ]

    def observe_locked(amount: float) -> None:
        bucket, acquire, release = targets[0 if amount <= first else bisect_left(bounds, amount, 1)]
        sum_acquire()
        try:
            total._value += amount
        finally:
            sum_release()
        acquire()
        try:
            bucket._value += 1.0
        finally:
            release()

    return observe_locked


_W = TypeVar("_W", bound="_ClientMetric")

Exemplar = Callable[[], "dict[str, str] | None"]
"""Returns an observation's exemplar labels (``{"trace_id": ...}``), or None for none."""


class _ClientMetric:
    """What the four kinds share: a bound child wraps the client's labelled child."""

    __slots__ = ()

    name: str
    help: str
    label_names: tuple[str, ...]
    prom: Any

    def _bind(self: _W, label_values: tuple[str, ...]) -> _W:
        make: Callable[..., _W] = type(self)
        child = self.prom.labels(*label_values)
        return make(self.name, self.help, self.label_names, child, label_values=label_values)


class PrometheusCounter(_ClientMetric, Counter):
    """A kit Counter backed by a prometheus-client Counter."""

    __slots__ = ("_add", "prom")

    _add: Record  # type: ignore[assignment]  # kit's hook, as a slot holding the function

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
        # An unbound root's parent has no value; kit refuses to add to it before this.
        value = getattr(prom, "_value", None)
        self._add = _value_adder(value) if value is not None else prom.inc


class PrometheusGauge(_ClientMetric, Gauge):
    """A kit Gauge backed by a prometheus-client Gauge."""

    __slots__ = ("_add", "_set", "prom")

    _add: Record  # type: ignore[assignment]
    _set: Record  # type: ignore[assignment]

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
        value = getattr(prom, "_value", None)
        # The client refuses inc() on a "mostrecent" gauge: keep the call, and its error.
        direct = value is not None and getattr(prom, "_is_most_recent", None) is False
        self._add = _value_adder(value) if direct else prom.inc
        self._set = prom.set


class PrometheusHistogram(_ClientMetric, Histogram):
    """A kit Histogram backed by a prometheus-client Histogram (cumulative buckets).

    ``exemplar()``, when given, is called per observation: labels it returns (a trace
    id, say) are recorded as the bucket's exemplar, shown in the OpenMetrics exposition.
    """

    __slots__ = ("_exemplar", "_observe", "prom")

    _observe: Record  # type: ignore[assignment]

    def __init__(
        self,
        name: str,
        help: str,
        label_names: Sequence[str],
        prom: prometheus_client.Histogram,
        *,
        label_values: tuple[str, ...] | None = None,
        exemplar: Exemplar | None = None,
    ) -> None:
        super().__init__(name, help, label_names, label_values=label_values)
        self.prom = prom
        self._exemplar = exemplar
        plain = _observer(prom)  # the public observe for an unbound root's parent
        self._observe = plain if exemplar is None else _with_exemplar(prom, plain, exemplar)

    def _bind(self, label_values: tuple[str, ...]) -> PrometheusHistogram:
        child = self.prom.labels(*label_values)
        return PrometheusHistogram(
            self.name,
            self.help,
            self.label_names,
            child,
            label_values=label_values,
            exemplar=self._exemplar,
        )


def _with_exemplar(prom: prometheus_client.Histogram, plain: Record, exemplar: Exemplar) -> Record:
    """Observe through ``plain``, or through the client with the exemplar when there is one."""
    observe = prom.observe

    def record(amount: float) -> None:
        labels = exemplar()
        if labels is None:
            plain(amount)
        else:
            observe(amount, labels)

    return record


class PrometheusSummary(_ClientMetric, Histogram):
    """A kit Histogram backed by a prometheus-client Summary (``_count`` and ``_sum`` only)."""

    __slots__ = ("_observe", "prom")
    kind = "summary"

    _observe: Record  # type: ignore[assignment]

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
        count, total = getattr(prom, "_count", None), getattr(prom, "_sum", None)
        if count is None or total is None:
            self._observe = prom.observe
        else:
            add_count, add_sum = _value_adder(count), _value_adder(total)

            def observe(amount: float) -> None:
                add_count(1.0)  # the client's order: the count, then the sum
                add_sum(amount)

            self._observe = observe
