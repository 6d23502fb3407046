"""Counter, Gauge and Histogram: the metric types every backend implements.

A backend subclasses these and overrides a few hooks: ``_bind(label_values)`` makes the
labelled child (once per distinct label values; children are cached here), and ``_add``,
``_set`` or ``_observe`` record a value. Label checking lives here, so every backend
reports the same clear :class:`LabelError`, and ``with_labels`` stays a dict lookup on
the hot path. Hot paths that record values valid by construction (a request count of
1, an elapsed time) can skip the checks too: :func:`unchecked_add` and
:func:`unchecked_observe` hand out the backend's hook itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar, TypeVar

_M = TypeVar("_M", bound="Metric")

_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:.]*\Z")

Record = Callable[[float], None]
"""A function recording one value on a bound metric: a delta, or an observation."""


class LabelError(ValueError):
    """A label is unknown, given twice or left unset, or a labelled metric was used unlabelled."""

    def __init__(self, message: str, *, metric: str, label: str | None, label_names: Sequence[str]):
        super().__init__(message)
        self.metric = metric
        self.label = label
        self.label_names = tuple(label_names)


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid metric name (Prometheus' charset plus dots), else raise."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"invalid metric name {name!r}: use letters, digits, '_', ':' or '.', "
            "not starting with a digit"
        )
    return name


def check_label_names(metric: str, label_names: Sequence[str]) -> tuple[str, ...]:
    """Return the label names as a tuple if they are distinct identifiers, else raise."""
    if isinstance(label_names, str):
        raise TypeError(
            f"metric {metric!r}: label_names must be a sequence of names, not the string "
            f"{label_names!r}; write ({label_names!r},)"
        )
    names = tuple(label_names)
    seen: set[str] = set()
    for label in names:
        if not isinstance(label, str) or not label.isidentifier():
            raise LabelError(
                f"metric {metric!r}: invalid label name {label!r}; label names are identifiers",
                metric=metric,
                label=str(label),
                label_names=names,
            )
        if label in seen:
            raise LabelError(
                f"metric {metric!r}: label {label!r} declared twice in {names}",
                metric=metric,
                label=label,
                label_names=names,
            )
        seen.add(label)
    return names


class Metric:
    """Base of the metric types: a name, help text, label names and, once bound, label values.

    A metric created with label names is unbound: ``with_labels(**values)`` returns the
    child for one set of values, and only children record. Children are immutable and
    cached per label values, so binding the same values again is a dict lookup.
    """

    __slots__ = (
        "_children",
        "_label_set",
        "_unbound",
        "help",
        "label_names",
        "label_values",
        "name",
    )

    kind: ClassVar[str] = "metric"
    """The metric type's name: ``"counter"``, ``"gauge"`` or ``"histogram"``."""

    child_cache_size: ClassVar[int] = 4096
    """How many children a metric keeps for reuse; beyond that each ``with_labels`` binds anew."""

    name: str
    help: str
    label_names: tuple[str, ...]
    label_values: tuple[str, ...]
    _children: dict[tuple[str, ...], Metric] | None
    _label_set: frozenset[str]
    _unbound: bool

    def __init__(
        self,
        name: str,
        help: str = "",
        label_names: Sequence[str] = (),
        *,
        label_values: tuple[str, ...] | None = None,
    ) -> None:
        if label_values is None:
            # A root metric: validate once here so binding children can skip it.
            self.name = check_name(name)
            self.label_names = check_label_names(name, label_names)
            self.label_values = ()
            self._unbound = bool(self.label_names)
            self._children = {} if self._unbound else None
        else:
            self.name = name
            self.label_names = tuple(label_names)
            self.label_values = label_values
            self._unbound = False
            self._children = None
        self.help = help
        self._label_set = frozenset(self.label_names)

    @property
    def labels(self) -> dict[str, str]:
        """The bound label values by name (empty while unbound)."""
        return dict(zip(self.label_names, self.label_values, strict=False))

    def with_labels(self: _M, /, **values: object) -> _M:
        """Return the child metric for these label values (all labels, one call; values str()'d).

        Raises LabelError, naming the metric and the label, when a label is unknown, left
        unset, or already bound on this metric. The original metric is unchanged.
        """
        children = self._children
        if children is None or values.keys() != self._label_set:
            return self._with_labels_slow(values)
        key = tuple([str(values[label]) for label in self.label_names])
        child = children.get(key)
        if child is None:
            child = self._bind(key)
            if len(children) < self.child_cache_size:
                child = children.setdefault(key, child)
        return child  # type: ignore[return-value]

    def _bind(self: _M, label_values: tuple[str, ...]) -> _M:
        """Backend hook: create the child metric bound to ``label_values`` (in label order)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _bind")

    def _with_labels_slow(self: _M, values: Mapping[str, object]) -> _M:
        """Handle every case the fast path does not: unlabelled metrics, children, errors."""
        if self.label_values or not self.label_names:
            if not values:
                return self  # nothing to bind: this metric already is the series
            label = next(iter(values))
            if label in self._label_set:
                raise self._error(
                    f"label {label!r} given twice: already set to {self.labels[label]!r}", label
                )
            raise self._error(f"unknown label {label!r}", label)
        for label in values:
            if label not in self._label_set:
                raise self._error(f"unknown label {label!r}", label)
        for label in self.label_names:
            if label not in values:
                raise self._error(
                    f"label {label!r} left unset; with_labels takes every label in one call",
                    label,
                )
        raise AssertionError("unreachable: labels matched")  # pragma: no cover

    def _error(self, problem: str, label: str | None) -> LabelError:
        return LabelError(
            f"metric {self.name!r}: {problem}; its labels are {self.label_names}",
            metric=self.name,
            label=label,
            label_names=self.label_names,
        )

    def _unbound_error(self) -> LabelError:
        call = ", ".join(f"{label}=..." for label in self.label_names)
        return self._error(f"has label names but no values: call with_labels({call}) first", None)

    def __repr__(self) -> str:
        labels = ", ".join(f"{k}={v!r}" for k, v in self.labels.items())
        return f"<{type(self).__name__} {self.name}{{{labels}}}>"


class Counter(Metric):
    """A value that only goes up: requests served, bytes sent, errors seen."""

    __slots__ = ()
    kind = "counter"

    def add(self, delta: float = 1.0) -> None:
        """Add ``delta`` (default 1); a negative delta is a ValueError."""
        if self._unbound:
            raise self._unbound_error()
        if not delta >= 0:  # also refuses NaN
            raise ValueError(f"counter {self.name!r}: delta must be >= 0, got {delta!r}")
        self._add(delta)

    def _add(self, delta: float) -> None:
        """Backend hook: record ``delta`` (already checked, on a bound metric)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _add")


class Gauge(Metric):
    """A value that goes up and down: queue length, temperature, requests in flight."""

    __slots__ = ()
    kind = "gauge"

    def set(self, value: float) -> None:
        """Set the gauge to ``value``."""
        if self._unbound:
            raise self._unbound_error()
        self._set(value)

    def add(self, delta: float) -> None:
        """Add ``delta`` (negative to go down)."""
        if self._unbound:
            raise self._unbound_error()
        self._add(delta)

    def _set(self, value: float) -> None:
        """Backend hook: set the value (on a bound metric)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _set")

    def _add(self, delta: float) -> None:
        """Backend hook: add ``delta`` to the value (on a bound metric)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _add")


class Histogram(Metric):
    """A distribution of observed values, such as request latencies, answering quantiles."""

    __slots__ = ()
    kind = "histogram"

    def observe(self, value: float) -> None:
        """Record one observation; NaN is a ValueError."""
        if self._unbound:
            raise self._unbound_error()
        if value != value:  # the cheap NaN test
            raise ValueError(f"histogram {self.name!r}: cannot observe NaN")
        self._observe(value)

    def _observe(self, value: float) -> None:
        """Backend hook: record one observation (on a bound metric)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _observe")


def unchecked_add(metric: Counter | Gauge) -> Record:
    """Return a function adding to ``metric`` without ``add``'s checks, for hot paths.

    The caller vouches for its deltas (a counter's are >= 0, never NaN). It is the
    backend's ``_add`` hook, one call less per record, unless ``metric`` is unbound or
    its class overrides ``add``: then it is ``add``, which checks and raises as usual.
    """
    base = Counter if isinstance(metric, Counter) else Gauge if isinstance(metric, Gauge) else None
    if base is None or metric._unbound or type(metric).add is not base.add:
        return metric.add
    return metric._add


def unchecked_observe(metric: Histogram) -> Record:
    """Return a function observing into ``metric`` without ``observe``'s NaN check, for hot paths.

    As :func:`unchecked_add`: the backend's ``_observe`` hook, or ``observe`` itself when
    ``metric`` is unbound or its class overrides ``observe``.
    """
    if (
        not isinstance(metric, Histogram)
        or metric._unbound
        or type(metric).observe is not Histogram.observe
    ):
        return metric.observe
    return metric._observe
