"""MetricRegistry: one metric per name, so asking twice returns the same series.

Every provider needs the same rule: the same name with the same kind and label names
returns the metric made the first time; a different kind or label names is an error.
Backends (the core's and plugins') share this class instead of re-implementing it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from kitcore.metrics.metric import Metric, check_label_names

_M = TypeVar("_M", bound=Metric)


class MetricRegistry:
    """Thread-safe map from metric name to the metric created for it."""

    __slots__ = ("_lock", "_metrics")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[str, Metric] = {}

    def get_or_create(
        self,
        kind: type[_M],
        name: str,
        label_names: Sequence[str],
        create: Callable[[tuple[str, ...]], _M],
    ) -> _M:
        """Return the metric named ``name``, calling ``create(label_names)`` the first time.

        Raises ValueError if ``name`` exists with another kind or other label names.
        """
        names = check_label_names(name, label_names)
        with self._lock:
            existing = self._metrics.get(name)
            if existing is None:
                metric = create(names)
                self._metrics[name] = metric
                return metric
        if not isinstance(existing, kind):
            raise ValueError(
                f"metric {name!r} already exists as a {existing.kind} with labels "
                f"{existing.label_names}; cannot create it again as a {kind.kind}"
            )
        if existing.label_names != names:
            raise ValueError(
                f"{existing.kind} {name!r} already exists with labels {existing.label_names}; "
                f"cannot create it again with labels {names}"
            )
        return existing

    def get(self, name: str) -> Metric | None:
        """Return the metric named ``name``, or None."""
        return self._metrics.get(name)

    def __iter__(self) -> Iterator[Metric]:
        """Iterate over the metrics, in creation order."""
        with self._lock:
            metrics = list(self._metrics.values())
        return iter(metrics)

    def __len__(self) -> int:
        return len(self._metrics)
