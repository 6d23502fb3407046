"""kit metric types that write StatsD lines.

A root metric holds its :class:`Family` (the wire settings of one metric); binding
label values precomputes the line's text before and after the value, so recording is a
sampling test, one number formatted and one buffered append.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from kit_statsd import wire
from kitcore.metrics import Counter, Gauge, Histogram, Metric


class Family:
    """How one metric goes on the wire: name, line type, sample rate, labels style."""

    __slots__ = (
        "constant_tags",
        "fold_labels",
        "kind",
        "label_names",
        "lock",
        "random",
        "rate",
        "scale",
        "send",
        "values",
        "wire_name",
    )

    def __init__(
        self,
        *,
        wire_name: str,
        kind: str,
        label_names: tuple[str, ...],
        rate: float,
        send: Callable[[str, int], None],
        random: Callable[[], float],
        fold_labels: bool,
        constant_tags: str = "",
        scale: float = 1.0,
    ) -> None:
        if not 0.0 < rate <= 1.0:
            raise ValueError(f"sample rate must be in (0, 1], got {rate!r}")
        self.wire_name = wire_name
        self.kind = kind
        self.label_names = label_names
        self.rate = rate
        self.send = send
        self.random = random
        self.fold_labels = fold_labels
        self.constant_tags = constant_tags
        self.scale = scale
        self.lock = threading.Lock()
        # Gauge values kept here for DogStatsD, which has no relative gauges: add()
        # sends the new absolute value, whichever child object of the series is used.
        self.values: dict[tuple[str, ...], list[float]] = {}

    def parts(self, label_values: tuple[str, ...] | None) -> tuple[str, str, int]:
        """Return ``(head, tail, size)``: a line is ``head + value + tail``, of ``size`` bytes
        plus the value's; empty for a labelled root, which never records."""
        if label_values is None:
            if self.label_names:
                return "", "", 0
            label_values = ()
        if self.fold_labels:
            name, tag_text = wire.folded(self.wire_name, label_values), self.constant_tags
        else:
            name = self.wire_name
            tag_text = ",".join(
                text
                for text in (
                    self.constant_tags,
                    wire.tags(dict(zip(self.label_names, label_values, strict=True))),
                )
                if text
            )
        head, tail = name + ":", wire.suffix(self.kind, self.rate, tag_text)
        return head, tail, len(head.encode()) + len(tail.encode())

    def cell(self, label_values: tuple[str, ...] | None) -> list[float]:
        """Return the shared one-item list holding this series' gauge value."""
        if label_values is None:
            if self.label_names:
                return [0.0]  # a labelled root never records
            label_values = ()
        with self.lock:
            return self.values.setdefault(label_values, [0.0])


_L = TypeVar("_L", bound="_Line")


class _Line(Metric):
    """What the four kinds share: a Family, and a bound child's line around its value.

    A record is ``self._send(self._head + value + self._tail, self._size + len(value))``.
    """

    __slots__ = ("_head", "_send", "_size", "_tail", "family")

    def __init__(
        self,
        name: str,
        help: str,
        family: Family,
        *,
        label_values: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(name, help, family.label_names, label_values=label_values)
        self.family = family
        self._head, self._tail, self._size = family.parts(label_values)
        self._send = family.send

    def _bind(self: _L, label_values: tuple[str, ...]) -> _L:
        return type(self)(self.name, self.help, self.family, label_values=label_values)


class StatsdCounter(_Line, Counter):
    """A kit Counter sent as StatsD ``|c`` lines, sampled at the family's rate."""

    __slots__ = ("_one", "_one_size", "_random", "_rate")

    def __init__(
        self,
        name: str,
        help: str,
        family: Family,
        *,
        label_values: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(name, help, family, label_values=label_values)
        self._rate, self._random = family.rate, family.random
        # add() with the default 1 is nearly every call: its line is made once.
        self._one, self._one_size = self._head + "1" + self._tail, self._size + 1

    def _add(self, delta: float) -> None:
        if self._rate < 1.0 and self._random() >= self._rate:
            return
        if delta == 1:
            self._send(self._one, self._one_size)
            return
        value = wire.number(delta)
        self._send(self._head + value + self._tail, self._size + len(value))


class StatsdHistogram(_Line, Histogram):
    """A kit Histogram sent as ``|ms`` timings, ``|h`` histograms or ``|d`` distributions.

    Observations are multiplied by the family's scale first (1000 for timings recorded in
    seconds and sent in milliseconds).
    """

    __slots__ = ("_random", "_rate", "_scale")

    def __init__(
        self,
        name: str,
        help: str,
        family: Family,
        *,
        label_values: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(name, help, family, label_values=label_values)
        self._scale = family.scale
        self._rate, self._random = family.rate, family.random

    def _observe(self, value: float) -> None:
        if self._rate < 1.0 and self._random() >= self._rate:
            return
        text = wire.number(value * self._scale if self._scale != 1.0 else value)
        self._send(self._head + text + self._tail, self._size + len(text))


class StatsdGauge(_Line, Gauge):
    """A kit Gauge sent as StatsD ``|g`` lines: deltas as ``+d``/``-d`` to the daemon.

    A negative value is set as ``0`` then the value, since a signed value alone would be
    taken as a delta.
    """

    __slots__ = ()

    def _set(self, value: float) -> None:
        text = wire.number(value)
        if text.startswith("-"):
            self._send(self._head + "0" + self._tail, self._size + 1)
        self._send(self._head + text + self._tail, self._size + len(text))

    def _add(self, delta: float) -> None:
        text = wire.number(delta)
        if not text.startswith("-"):
            text = "+" + text
        self._send(self._head + text + self._tail, self._size + len(text))


class DogStatsdGauge(_Line, Gauge):
    """A kit Gauge sent as DogStatsD ``|g`` lines, always absolute (DogStatsD has no deltas).

    ``add`` changes the value kept in this process and sends the result.
    """

    __slots__ = ("_cell", "_lock")

    def __init__(
        self,
        name: str,
        help: str,
        family: Family,
        *,
        label_values: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(name, help, family, label_values=label_values)
        self._cell = family.cell(label_values)
        self._lock = family.lock

    def _set(self, value: float) -> None:
        text = wire.number(value)
        with self._lock:
            self._cell[0] = float(value)
        self._send(self._head + text + self._tail, self._size + len(text))

    def _add(self, delta: float) -> None:
        with self._lock:
            self._cell[0] += delta
            value = self._cell[0]
        text = wire.number(value)
        self._send(self._head + text + self._tail, self._size + len(text))
