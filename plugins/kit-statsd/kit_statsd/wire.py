"""The StatsD and DogStatsD line format: ``name:value|type[|@rate][|#tag:value,...]``.

Only what the senders need: safe names, label values folded into the name (plain
StatsD) or written as tags (DogStatsD), and compact numbers. Every function returns
ASCII for names and numbers, so a line's length in bytes is known without encoding it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

COUNTER = "c"
GAUGE = "g"
TIMING = "ms"
HISTOGRAM = "h"
DISTRIBUTION = "d"

HISTOGRAM_TYPES = (TIMING, HISTOGRAM, DISTRIBUTION)
"""Line types a kit Histogram may be sent as: StatsD timings, DogStatsD histograms or
distributions."""

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.\-]")
_UNSAFE_SEGMENT = re.compile(r"[^A-Za-z0-9_\-]")
_UNSAFE_TAG = re.compile(r"[|,#\s]")


def safe_name(name: str) -> str:
    """Return ``name`` with every character StatsD cannot carry in a name replaced by ``_``."""
    return _UNSAFE_NAME.sub("_", name)


def prefixed(prefix: str, name: str) -> str:
    """Return ``prefix.name`` (``name`` alone without prefix); a trailing dot is not doubled."""
    if not prefix:
        return safe_name(name)
    return safe_name(prefix.rstrip(".") + "." + name)


def folded(name: str, values: Sequence[str]) -> str:
    """Return ``name`` with the label values appended as dotted segments (plain StatsD).

    Each value becomes one segment: characters other than letters, digits, ``_`` and
    ``-`` (dots included, which would add levels) become ``_``; an empty value is ``_``.
    """
    if not values:
        return name
    return name + "." + ".".join(_UNSAFE_SEGMENT.sub("_", value) or "_" for value in values)


def tags(labels: Mapping[str, str]) -> str:
    """Return DogStatsD tags ``key:value,...``; ``|``, ``,``, ``#`` and spaces become ``_``."""
    return ",".join(
        f"{_UNSAFE_TAG.sub('_', key)}:{_UNSAFE_TAG.sub('_', value)}"
        for key, value in labels.items()
    )


def suffix(kind: str, rate: float, tag_text: str) -> str:
    """Return what follows the value: ``|type``, then ``|@rate`` below 1, then ``|#tags``."""
    text = "|" + kind
    if rate < 1.0:
        text += "|@" + number(rate)
    if tag_text:
        text += "|#" + tag_text
    return text


def number(value: float) -> str:
    """Return ``value`` compactly and exactly: ``1`` not ``1.0``, ``0.25``, ``1e-07``.

    Non-finite values have no StatsD form: ValueError.
    """
    if value.__class__ is int:
        return str(value)
    value = float(value)
    if value - value == 0.0:  # finite: inf - inf and NaN - NaN are NaN
        if value.is_integer() and -1e15 < value < 1e15:
            return str(int(value))
        return repr(value)
    raise ValueError(f"StatsD cannot carry the value {value!r}")
